//! Known-answer tests for every webhook profile.
//!
//! The Standard Webhooks vector is the one the Standard Webhooks reference libraries test
//! against. The providers below it publish no complete vector, so each expected signature
//! was computed independently of garita with Python's standard library, e.g. for
//! PagoEfectivo:
//!     python3 -c 'import hmac,hashlib; print(hmac.new(b"pe_test_secret_key", BODY, hashlib.sha256).hexdigest())'
//! Each test checks that garita accepts the vector, rejects it after one flipped byte, and
//! produces the same signature when signing (what `garita sign` prints).

use garita::core::webhook::{
    sign, Algorithm, Encoding, GenericHmac, Notification, Profile, WebhookError,
};
use http::HeaderMap;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

/// Accepts `body` as given and refuses it with its first byte changed.
fn check(
    profile: &Profile,
    secret: &str,
    hdrs: &[(&str, &str)],
    query: Option<&str>,
    body: &[u8],
    now: i64,
) {
    accepts(profile, secret, hdrs, query, body, now);
    let key = profile.key_bytes(secret).unwrap();
    let h = headers(hdrs);
    let mut flipped = body.to_vec();
    flipped[1] ^= 0x01;
    let n = Notification::new(&h, query, &flipped);
    assert_eq!(
        profile.verify(&[key], &n, now, 300).unwrap_err(),
        WebhookError::BadSignature,
        "{} flipped",
        profile.name()
    );
}

fn accepts(
    profile: &Profile,
    secret: &str,
    hdrs: &[(&str, &str)],
    query: Option<&str>,
    body: &[u8],
    now: i64,
) {
    let key = profile.key_bytes(secret).unwrap();
    let h = headers(hdrs);
    let n = Notification::new(&h, query, body);
    assert!(
        profile.verify(&[key], &n, now, 300).is_ok(),
        "{} vector",
        profile.name()
    );
}

const PE_BODY: &[u8] = br#"{"eventType":"cip.paid","operationNumber":"1234567","data":{"cip":"2538913","currency":"PEN","amount":"120.00","paymentDate":"2026-11-25T10:15:00","transactionCode":"T-1001"}}"#;
const PE_SIG: &str = "0c12a63b8c211644ba47a387b06ca07e4301d3a522f71b0b4c07491cb29c4fe8";

#[test]
fn pagoefectivo() {
    let p = Profile::PagoEfectivo;
    check(
        &p,
        "pe_test_secret_key",
        &[("PE-Signature", PE_SIG)],
        None,
        PE_BODY,
        0,
    );
    // Upper-case hex is the same signature.
    check(
        &p,
        "pe_test_secret_key",
        &[("PE-Signature", &PE_SIG.to_uppercase())],
        None,
        PE_BODY,
        0,
    );
    let signed = sign(&p, b"pe_test_secret_key", PE_BODY, 0, "");
    assert_eq!(
        signed,
        vec![("PE-Signature".to_string(), PE_SIG.to_string())]
    );
}

#[test]
fn standard_webhooks_reference_vector() {
    let p = Profile::StandardWebhooks;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"test": 2432232314}"#;
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let hdrs = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", sig),
    ];
    check(&p, secret, &hdrs, None, body, 1_614_265_330);
    // Several signatures separated by spaces: any may match (rotation on the sender side).
    let several = format!("v1,bm9wZQ== {sig}");
    let rotated = [hdrs[0], hdrs[1], ("webhook-signature", several.as_str())];
    check(&p, secret, &rotated, None, body, 1_614_265_330);
    let key = p.key_bytes(secret).unwrap();
    let signed = sign(
        &p,
        &key,
        body,
        1_614_265_330,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
    );
    assert_eq!(
        signed[2],
        ("webhook-signature".to_string(), sig.to_string())
    );
}

#[test]
fn stripe() {
    let p = Profile::Stripe;
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let sig = "ce161c2325726ed047a90954af56ffa1539de04afa5e3142ea804c504003bf23";
    let header = format!(
        "t=1764000000,v1={sig},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    );
    check(
        &p,
        "whsec_test_secret",
        &[("Stripe-Signature", &header)],
        None,
        body,
        1_764_000_100,
    );
    let signed = sign(&p, b"whsec_test_secret", body, 1_764_000_000, "");
    assert_eq!(signed[0].1, format!("t=1764000000,v1={sig}"));
}

#[test]
fn checkout() {
    let p = Profile::Checkout;
    let body = br#"{"id":"evt_az5sblvku4ge3dwpztvyizgcau","type":"payment_approved"}"#;
    let sig = "8a0f15dce93b9b09ff204cbe460462444640c72fb53135996478e74b17bb6c0b";
    check(&p, "cko_secret", &[("Cko-Signature", sig)], None, body, 0);
    assert_eq!(sign(&p, b"cko_secret", body, 0, "")[0].1, sig);
}

#[test]
fn dlocal() {
    let p = Profile::Dlocal;
    let body = br#"{"id":"D-4-cf8f1a0e","status":"PAID"}"#;
    let sig = "e88da873bf251f8db0aca9c41b506d5653ad13cbf9ea4bf99e80e821b2801cd3";
    let auth = format!("V2-HMAC-SHA256, Signature: {sig}");
    let hdrs = [
        ("X-Login", "sak223k2wdksdl2"),
        ("X-Date", "2026-11-25T19:00:00.000Z"),
        ("Authorization", auth.as_str()),
    ];
    let now = "2026-11-25T19:01:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    check(&p, "dlocal_secret", &hdrs, None, body, now);
    let signed = sign(&p, b"dlocal_secret", body, now - 60, "sak223k2wdksdl2");
    assert_eq!(signed[1].1, "2026-11-25T19:00:00.000Z");
    assert_eq!(signed[2].1, auth);
}

#[test]
fn mercadopago() {
    let p = Profile::MercadoPago;
    let body = br#"{"action":"payment.updated","data":{"id":"123456"},"type":"payment"}"#;
    let sig = "287a596bb8f71cc67815f6b5e9ac346c9d84377b4fcd6560fd9548c3bc5f2855";
    let xsig = format!("ts=1704908010,v1={sig}");
    let hdrs = [
        ("x-signature", xsig.as_str()),
        ("x-request-id", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"),
    ];
    let query = Some("data.id=123456&type=payment");
    accepts(&p, "mp_secret", &hdrs, query, body, 1_704_908_010);
    // Mercado Pago signs the manifest, not the body (the shop is meant to fetch the payment
    // by id); a different data.id fails.
    let key = b"mp_secret".to_vec();
    let h = headers(&hdrs);
    let other = Notification::new(&h, Some("data.id=999"), body);
    assert_eq!(
        p.verify(&[key], &other, 1_704_908_010, 300).unwrap_err(),
        WebhookError::BadSignature
    );
}

/// Mercado Pago's own Python SDK test values (tests/test_webhook_signature_validator.py,
/// sdk-python 3.5): an Orders id in upper case, a timestamp in milliseconds. The hashes
/// were computed with Python's hmac module over the SDK's manifest.
#[test]
fn mercadopago_signs_the_data_id_in_its_own_case() {
    let p = Profile::MercadoPago;
    let secret = "your_secret_key_here";
    let request_id = "2066ca19-c6f1-498a-be75-1923005edd06";
    let (upper, lower) = (
        "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3",
        "ord01jq4s4ky8hwq6na5pxb65b3d3",
    );
    let upper_hash = "fb15ae6472eb449173c556793205d77787d58f384d183bb5bc3b724c27bd103c";
    let lower_hash = "633f91233312dd391ec75fa0bea539cfc2d6c4918873305b84a96cc1c58db71c";
    let now = 1_742_505_638; // the SDK's ts, 1742505638683, in seconds
    let body = br#"{"action":"order.processed","data":{"id":"ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"},"type":"order"}"#;
    let verify = |hash: &str, data_id: &str| {
        let xsig = format!("ts=1742505638683,v1={hash}");
        let h = headers(&[("x-signature", xsig.as_str()), ("x-request-id", request_id)]);
        let query = format!("data.id={data_id}&type=order");
        let n = Notification::new(&h, Some(&query), body);
        p.verify(&[secret.as_bytes().to_vec()], &n, now, 300)
    };
    // Signed as the SDK signs it now: the id in its own case.
    assert!(verify(upper_hash, upper).is_ok());
    // Signed the old way, over the lower-cased id, for the same notification: also good.
    assert!(verify(lower_hash, upper).is_ok());
    assert!(verify(lower_hash, lower).is_ok());
    // An id lower-cased in the query does not match a hash over the upper-case one.
    assert_eq!(
        verify(upper_hash, lower).unwrap_err(),
        WebhookError::BadSignature
    );
    // Nor does another id.
    assert_eq!(
        verify(upper_hash, "ORD01JQ4S4KY8HWQ6NA5PXB65B3D4").unwrap_err(),
        WebhookError::BadSignature
    );
    // garita's own signer (`garita sign`) signs the id as given.
    let signed = sign(&p, secret.as_bytes(), body, now, upper);
    assert!(signed[1].1.starts_with(&format!("ts={now},v1=")));
}

#[test]
fn generic_hmac_sha512_base64_with_timestamp() {
    let p = Profile::Hmac(GenericHmac {
        header: http::HeaderName::from_static("x-signature"),
        algorithm: Algorithm::Sha512,
        encoding: Encoding::Base64,
        prefix: "sha512=".into(),
        template: "{timestamp}.{body}".into(),
        timestamp_header: Some(http::HeaderName::from_static("x-timestamp")),
    });
    let body = br#"{"order":42}"#;
    let sig = "sha512=H/+8hrAL5aPRuR+rHEzfFYpQ646c48U/7rkF9j+0Nd+W7GyF1670RIZtZhfAHRPMN2vPXiXi419XibWgugPs8w==";
    let hdrs = [("X-Signature", sig), ("X-Timestamp", "1764000000")];
    check(&p, "generic", &hdrs, None, body, 1_764_000_000);
    assert_eq!(sign(&p, b"generic", body, 1_764_000_000, "")[0].1, sig);
}

#[test]
fn rotation_stale_future_and_missing() {
    let p = Profile::Stripe;
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let header = "t=1764000000,v1=ce161c2325726ed047a90954af56ffa1539de04afa5e3142ea804c504003bf23";
    let h = headers(&[("Stripe-Signature", header)]);
    let n = Notification::new(&h, None, body);
    let old = b"whsec_old".to_vec();
    let current = b"whsec_test_secret".to_vec();
    assert!(p
        .verify(&[old.clone(), current.clone()], &n, 1_764_000_000, 300)
        .is_ok());
    assert_eq!(
        p.verify(&[old], &n, 1_764_000_000, 300),
        Err(WebhookError::BadSignature)
    );
    let keys = [current];
    assert_eq!(
        p.verify(&keys, &n, 1_764_000_301, 300),
        Err(WebhookError::TooOld)
    );
    assert_eq!(
        p.verify(&keys, &n, 1_763_999_699, 300),
        Err(WebhookError::InFuture)
    );
    let none = HeaderMap::new();
    let n = Notification::new(&none, None, body);
    assert_eq!(
        p.verify(&keys, &n, 0, 300),
        Err(WebhookError::MissingSignature)
    );
    let h = headers(&[("PE-Signature", "not-hex")]);
    let n = Notification::new(&h, None, body);
    assert_eq!(
        Profile::PagoEfectivo.verify(&keys, &n, 0, 300),
        Err(WebhookError::MalformedSignature)
    );
}
