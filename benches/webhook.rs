//! Webhook verification without sockets: a PagoEfectivo notification checked against two
//! secrets during a rotation (the matching one last, the worst case), and a Stripe one with
//! its timestamp.
//!
//! Run with `cargo bench --bench webhook`; results are written down in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use garita::core::webhook::{sign, Notification, Profile};

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

fn benches(c: &mut Criterion) {
    let paid = fixtures::pe_paid("1234567");
    let body = paid.as_bytes();
    let keys = vec![
        b"the-old-secret".to_vec(),
        fixtures::PE_SECRET.as_bytes().to_vec(),
    ];
    let mut headers = http::HeaderMap::new();
    for (name, value) in sign(&Profile::PagoEfectivo, &keys[1], body, 0, "") {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let n = Notification::new(&headers, None, body);
    assert!(Profile::PagoEfectivo.verify(&keys, &n, 0, 300).is_ok());
    c.bench_function("verify pagoefectivo (2 secrets, second matches)", |b| {
        b.iter(|| Profile::PagoEfectivo.verify(black_box(&keys), black_box(&n), 0, 300))
    });

    let stripe_body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let stripe_key = vec![b"whsec_test_secret".to_vec()];
    let mut stripe_headers = http::HeaderMap::new();
    for (name, value) in sign(
        &Profile::Stripe,
        &stripe_key[0],
        stripe_body,
        1_764_000_000,
        "",
    ) {
        stripe_headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let sn = Notification::new(&stripe_headers, None, stripe_body);
    assert!(Profile::Stripe
        .verify(&stripe_key, &sn, 1_764_000_000, 300)
        .is_ok());
    c.bench_function("verify stripe (timestamp, event id)", |b| {
        b.iter(|| {
            Profile::Stripe.verify(black_box(&stripe_key), black_box(&sn), 1_764_000_000, 300)
        })
    });
}

criterion_group!(webhook, benches);
criterion_main!(webhook);
