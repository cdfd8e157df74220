//! Property tests for the parsers that read what clients and operators write: generated
//! inputs, shrunk to a small case when a property fails. A run in CI takes seconds
//! (`PROPTEST_CASES`, 256 by default, sets how many cases each property gets; the README
//! records longer runs). `garbage_in.rs` keeps the seeded mutation tests beside these.

use garita::core::net::ip_list::IpList;
use garita::core::request::body::{self, BodyKind};
use garita::core::request::client_ip::ClientIpResolver;
use garita::core::request::facts::{self, FactSelectors};
use garita::core::request::json::{self, to_serde, JsonError};
use garita::core::request::path;
use garita::core::request::selector::Selector;
use garita::core::webhook::{Notification, Profile};
use proptest::prelude::*;

/// The address a forwarding hop names, read loosely: `a.b.c.d`, `a.b.c.d:port`, an IPv6
/// address, or one in brackets with or without a port.
fn hop_address(hop: &str) -> Option<std::net::IpAddr> {
    let hop = hop.trim();
    let text = match hop.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None if hop.matches(':').count() == 1 => hop.split(':').next()?,
        None => hop,
    };
    text.parse::<std::net::IpAddr>()
        .ok()
        .map(|a| a.to_canonical())
}

/// JSON values up to a few levels deep; keys and strings include escapes and non-ASCII.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e15f64..1e15).prop_map(serde_json::Value::from),
        "[a-z\"\\\\/\u{e9}\u{1f600}\n]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z\"\u{e9}]{0,5}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn the_json_reader_reads_what_serde_json_reads(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        let ours = json::parse(&text);
        prop_assert!(ours.is_ok(), "{:?} on {}", ours, text);
        // Compared with what serde_json reads back, not with `value`: neither reader
        // promises to round-trip every float to the last bit.
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(to_serde(&ours.unwrap()), theirs);
    }

    #[test]
    fn a_repeated_key_is_refused_wherever_it_is(
        keys in prop::collection::btree_set("[a-z]{1,4}", 1..40),
        pick in any::<prop::sample::Index>(),
        depth in 0usize..5,
    ) {
        let keys: Vec<String> = keys.into_iter().collect();
        let repeated = keys[pick.index(keys.len())].clone();
        let mut members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
        members.push(format!("\"{repeated}\":2"));
        let mut text = format!("{{{}}}", members.join(","));
        for _ in 0..depth {
            text = format!("{{\"outer\":[{text}]}}");
        }
        prop_assert_eq!(json::parse(&text), Err(JsonError::DuplicateKey(repeated)));
    }

    #[test]
    fn facts_read_from_any_values_are_normal_or_a_problem(
        dni in "[ 0-9A-Za-z.\\-\u{e9}]{0,14}",
        kind in prop_oneof![Just("DNI".to_string()), Just("CE".to_string()), Just("PAS".to_string()), Just("RUC".to_string()), "[A-Za-z]{0,4}"],
        email in "[ -~]{0,24}",
        phone in "[ +0-9()\\-]{0,16}",
        amount in "[ 0-9.,\\-]{0,10}",
        as_number in any::<bool>(),
    ) {
        let s = |t: &str| Some(Selector::parse(t).unwrap());
        let selectors = FactSelectors {
            dni: s("json:/d"),
            dni_type: s("json:/k"),
            email: s("json:/e"),
            phone: s("json:/p"),
            amount: s("json:/a"),
            ..FactSelectors::default()
        };
        let amount_value = match amount.trim().parse::<f64>() {
            Ok(n) if as_number && n.is_finite() => serde_json::json!(n),
            _ => serde_json::json!(amount),
        };
        let text = serde_json::json!({"d": dni, "k": kind, "e": email, "p": phone, "a": amount_value}).to_string();
        let parsed = body::parse(Some("application/json"), text.as_bytes(), BodyKind::Json).unwrap();
        let read = facts::extract(&selectors, &parsed, &http::HeaderMap::new(), None).unwrap();
        // What is kept is canonical: a document of letters and digits, an email with one
        // @, a phone in E.164; anything else is recorded as a problem instead.
        if let Some(doc) = &read.document {
            prop_assert!(doc.number.chars().all(|c| c.is_ascii_alphanumeric()), "{:?}", doc);
        }
        if let Some(e) = &read.email {
            prop_assert_eq!(e.matches('@').count(), 1);
        }
        if let Some(p) = &read.phone {
            prop_assert!(p.starts_with('+') && p[1..].chars().all(|c| c.is_ascii_digit()), "{}", p);
        }
    }

    #[test]
    fn any_text_gets_an_answer_from_the_json_reader(text in any::<String>()) {
        let _ = json::parse(&text);
    }

    #[test]
    fn path_normal_forms_are_stable(text in "(/|%2[eEfF]|%5[cC]|\\.|;|[a-zA-Z0-9]|%[0-9a-fA-F]{2}|\\\\|[\u{e9}\u{0}]){0,24}") {
        if let Ok(normal) = path::normalize(&text) {
            prop_assert!(normal.starts_with('/'));
            if !normal.contains('%') {
                let again = path::normalize(&normal);
                prop_assert_eq!(again.as_deref(), Ok(&*normal));
            }
        }
    }

    #[test]
    fn the_client_address_is_the_peer_or_was_in_the_header(
        hops in prop::collection::vec(
            prop_oneof![
                "((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])",
                "\\[?2001:db8::[0-9a-f]{1,4}\\]?(:[0-9]{1,5})?",
                "127\\.0\\.0\\.[0-9]",
                "[ -~]{0,12}",
            ],
            0..5,
        ),
    ) {
        let mut trusted = IpList::new();
        trusted.insert("127.0.0.0/8".parse().unwrap());
        let resolver =
            ClientIpResolver::new(trusted, http::HeaderName::from_static("x-forwarded-for"));
        let peer: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let header = hops.join(", ");
        if let Ok(client) = resolver.resolve(peer, std::iter::once(header.as_bytes())) {
            prop_assert_eq!(client.peer, peer);
            let named: Vec<std::net::IpAddr> = header.split(',').filter_map(hop_address).collect();
            prop_assert!(
                client.addr == peer || named.contains(&client.addr),
                "{} came from nowhere in {:?}", client.addr, header
            );
        }
    }

    #[test]
    fn signature_headers_never_verify_by_chance(
        which in 0usize..5,
        value in "[ -~]{0,80}",
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let (profile, name) = [
            (Profile::Stripe, "stripe-signature"),
            (Profile::StandardWebhooks, "webhook-signature"),
            (Profile::Dlocal, "authorization"),
            (Profile::MercadoPago, "x-signature"),
            (Profile::PagoEfectivo, "pe-signature"),
        ][which].clone();
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
        headers.insert("webhook-id", http::HeaderValue::from_static("msg_1"));
        headers.insert("webhook-timestamp", http::HeaderValue::from_static("1764000000"));
        headers.insert("x-date", http::HeaderValue::from_static("2026-11-25T19:00:00.000Z"));
        let n = Notification::new(&headers, Some("data.id=1"), &body);
        let keys = vec![b"k".to_vec()];
        prop_assert!(profile.verify(&keys, &n, 1_764_000_000, 300).is_err());
    }

    #[test]
    fn any_config_text_gets_an_answer(text in "(\\[[a-z_.]{0,12}\\]\n|[a-z_]{1,10} = (\"[ -~]{0,10}\"|[0-9]{1,6}|\\[\\]|true)\n|[ -~]{0,20}\n){0,12}") {
        let _ = garita::config::parse_file_config(&text, std::path::Path::new("prop.toml"));
    }
}
