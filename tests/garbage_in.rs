//! Garbage in, an answer out: the parsers that read client bytes never panic, whatever
//! they are fed. Seeded random bytes and mutations of valid inputs, so a failure replays.

use garita::core::net::ip_list::IpList;
use garita::core::request::body::{self, BodyKind};
use garita::core::request::client_ip::ClientIpResolver;
use garita::core::request::facts::{self, FactSelectors};
use garita::core::request::path;
use garita::core::request::selector::Selector;
use garita::core::webhook::{Notification, Profile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ROUNDS: usize = 20_000;

/// A valid input with a few bytes flipped, cut, or repeated; or plain random bytes.
fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    match rng.random_range(0..4) {
        0 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
        1 => {
            for _ in 0..rng.random_range(1..4) {
                if !out.is_empty() {
                    let i = rng.random_range(0..out.len());
                    out[i] = rng.random();
                }
            }
            out
        }
        2 => {
            let cut = rng.random_range(0..=out.len());
            out.truncate(cut);
            out
        }
        _ => {
            let i = rng.random_range(0..=out.len());
            let piece = out[..i].to_vec();
            out.extend_from_slice(&piece);
            out
        }
    }
}

#[test]
fn paths_never_panic_and_normal_forms_are_stable() {
    let mut rng = StdRng::seed_from_u64(1);
    let seeds: [&[u8]; 3] = [
        b"/v1/cips",
        b"/a/../b/%2e%2E/c;x=1//d\\e",
        b"/pag%C3%A1/%2F",
    ];
    for _ in 0..ROUNDS {
        let seed = seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed);
        let text = String::from_utf8_lossy(&input);
        if let Ok(normal) = path::normalize(&text) {
            assert!(normal.starts_with('/'), "{text:?} -> {normal:?}");
            // Normalising a normal form changes nothing (unless it decodes to a new escape).
            if !normal.contains('%') {
                assert_eq!(
                    path::normalize(&normal).as_deref(),
                    Ok(&*normal),
                    "{text:?}"
                );
            }
        }
    }
}

#[test]
fn bodies_and_selectors_never_panic() {
    let mut rng = StdRng::seed_from_u64(2);
    let json = br#"{"userDocumentType":"DNI","userDocumentNumber":"45678912","userEmail":"a@b.pe","amount":"1.50","n":[1,{"x":null}]}"#;
    let form = b"userDocumentNumber=4567%208912&userEmail=a%40b.pe&amount=1.5";
    let s = |t: &str| Some(Selector::parse(t).unwrap());
    let json_selectors = FactSelectors {
        dni: s("json:/userDocumentNumber"),
        dni_type: s("json:/userDocumentType"),
        email: s("json:/userEmail"),
        amount: s("json:/amount"),
        ..FactSelectors::default()
    };
    let form_selectors = FactSelectors {
        dni: s("form:userDocumentNumber"),
        email: s("form:userEmail"),
        amount: s("form:amount"),
        ..FactSelectors::default()
    };
    let headers = http::HeaderMap::new();
    for _ in 0..ROUNDS {
        let (kind, ct, seed, selectors) = if rng.random() {
            (
                BodyKind::Json,
                "application/json",
                &json[..],
                &json_selectors,
            )
        } else {
            (
                BodyKind::Form,
                "application/x-www-form-urlencoded",
                &form[..],
                &form_selectors,
            )
        };
        let input = mutate(&mut rng, seed);
        if let Ok(parsed) = body::parse(Some(ct), &input, kind) {
            let _ = facts::extract(selectors, &parsed, &headers, Some("dni=1&dni"));
        }
    }
}

#[test]
fn forwarding_headers_never_panic() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut trusted = IpList::new();
    trusted.insert("127.0.0.0/8".parse().unwrap());
    let resolver = ClientIpResolver::new(trusted, http::HeaderName::from_static("x-forwarded-for"));
    let peer = "127.0.0.1".parse().unwrap();
    for _ in 0..ROUNDS {
        let input = mutate(&mut rng, b"192.0.2.1, [2001:db8::1]:443, 127.0.0.2");
        let _ = resolver.resolve(peer, std::iter::once(input.as_slice()));
    }
}

#[test]
fn signature_headers_never_panic() {
    let mut rng = StdRng::seed_from_u64(4);
    let keys = vec![b"k".to_vec()];
    let cases: [(Profile, &str, &[u8]); 5] = [
        (
            Profile::Stripe,
            "stripe-signature",
            b"t=1764000000,v1=00ff,v0=aa",
        ),
        (
            Profile::StandardWebhooks,
            "webhook-signature",
            b"v1,AAAA v1,bm9wZQ==",
        ),
        (
            Profile::Dlocal,
            "authorization",
            b"V2-HMAC-SHA256, Signature: 00ff",
        ),
        (
            Profile::MercadoPago,
            "x-signature",
            b"ts=1704908010,v1=00ff",
        ),
        (Profile::PagoEfectivo, "pe-signature", b"00ff"),
    ];
    for _ in 0..ROUNDS {
        let pick = rng.random_range(0..cases.len());
        let (profile, name, seed) = &cases[pick];
        let value = mutate(&mut rng, seed);
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            headers.insert(*name, v);
        }
        headers.insert("webhook-id", http::HeaderValue::from_static("msg_1"));
        headers.insert(
            "webhook-timestamp",
            http::HeaderValue::from_static("1764000000"),
        );
        headers.insert(
            "x-date",
            http::HeaderValue::from_static("2026-11-25T19:00:00.000Z"),
        );
        let body = mutate(&mut rng, b"{\"id\":\"evt_1\"}");
        let n = Notification::new(&headers, Some("data.id=1"), &body);
        // Random bytes are never a valid signature.
        assert!(profile.verify(&keys, &n, 1_764_000_000, 300).is_err());
    }
}
