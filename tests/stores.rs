//! The three stores answer the same plans the same way: the in-process one, the embedded
//! file and a real redis-server. Each case runs against all three.

mod support;

use garita::core::request::facts::KeyKind;
use garita::state::store::{
    Acquired, BlockedKey, Counter, EmbeddedStore, GcraOp, MemoryStore, Rate, RedisStore, Store,
    StoreAnswer, StorePlan,
};
use std::time::Duration;
use support::Redis;

/// One store, and a runtime to await it on.
struct Tried<'a> {
    store: &'a dyn Store,
    rt: &'a tokio::runtime::Runtime,
}

impl Tried<'_> {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn run(&self, plan: &StorePlan) -> StoreAnswer {
        let backend = self.backend();
        self.rt
            .block_on(self.store.execute(plan))
            .unwrap_or_else(|e| panic!("{backend}: {e}"))
    }
}

/// Run `case` against each kind of store.
fn each_store(case: impl Fn(Tried<'_>)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let memory = MemoryStore::new();
    case(Tried {
        store: &memory,
        rt: &rt,
    });
    let dir = tempfile::tempdir().unwrap();
    let embedded =
        EmbeddedStore::open(&dir.path().join("state.redb"), 0, Duration::from_secs(1)).unwrap();
    case(Tried {
        store: &embedded,
        rt: &rt,
    });
    let redis = Redis::start();
    let shared = RedisStore::new(&redis.url(), "t", None, Duration::from_secs(2)).unwrap();
    case(Tried {
        store: &shared,
        rt: &rt,
    });
}

fn quota(key: &str, limit: u64) -> Counter {
    Counter {
        key: key.into(),
        limit,
        expires_at: 100_000,
        enforced: true,
        add: 1,
    }
}

#[test]
fn a_shared_rate_and_a_quota_in_one_plan() {
    each_store(|store| {
        let plan = StorePlan {
            now: 1000,
            rates: vec![GcraOp {
                key: "r".into(),
                interval_ms: 1,
                burst: 100,
                now_ms: 1_000_000,
                enforced: true,
            }],
            counters: vec![quota("q", 2)],
            ..StorePlan::default()
        };
        for expected in [1, 2] {
            let answer = store.run(&plan);
            assert!(matches!(answer.rates[..], [Rate::Allowed { .. }]));
            assert_eq!(
                answer.counters,
                Some(Acquired::Granted(vec![expected])),
                "{}",
                store.backend()
            );
        }
        assert_eq!(
            store.run(&plan).counters,
            Some(Acquired::Refused { index: 0 }),
            "{}",
            store.backend()
        );
    });
}

#[test]
fn sums_add_amounts_reads_create_nothing_and_a_refusal_adds_nothing() {
    each_store(|store| {
        let backend = store.backend();
        let today = Counter::tally("s:today".into(), 12_050, 100_000);
        let yesterday = Counter::tally("s:yesterday".into(), 0, 100_000);
        let plan = |counters: Vec<Counter>| StorePlan {
            now: 1000,
            counters,
            ..StorePlan::default()
        };
        let both = plan(vec![today.clone(), yesterday.clone()]);
        assert_eq!(
            store.run(&both).counters,
            Some(Acquired::Granted(vec![12_050, 0])),
            "{backend}"
        );
        assert_eq!(
            store.run(&both).counters,
            Some(Acquired::Granted(vec![24_100, 0])),
            "{backend}"
        );
        // A quota with no room refuses the plan, and the amount before it is taken back.
        let refused = plan(vec![today.clone(), quota("q:full", 0)]);
        assert_eq!(
            store.run(&refused).counters,
            Some(Acquired::Refused { index: 1 }),
            "{backend}"
        );
        let read = plan(vec![Counter { add: 0, ..today }, yesterday]);
        assert_eq!(
            store.run(&read).counters,
            Some(Acquired::Granted(vec![24_100, 0])),
            "{backend}"
        );
    });
}

#[test]
fn reviews_are_queued_resolved_once_and_fraud_blocks_the_identity_keys() {
    use garita::state::store::review::{Outcome, Resolution, Resolved, Review};
    each_store(|store| {
        let backend = store.backend();
        let review = |id: &str, at| Review {
            id: id.into(),
            at,
            route: "cips".into(),
            policy: "cips".into(),
            keys: vec![
                ("dni".into(), format!("{:0>32}", "d1")),
                ("ip".into(), format!("{:0>32}", "i1")),
            ],
            amount: Some("1500.00".into()),
            currency: Some("PEN".into()),
            reasons: vec!["risk_score".into()],
            score: Some(60),
            resolution: None,
        };
        let rt = store.rt;
        rt.block_on(store.store.add_review(&review("b", 200)))
            .unwrap();
        rt.block_on(store.store.add_review(&review("a", 100)))
            .unwrap();
        let pending = rt.block_on(store.store.reviews(true)).unwrap();
        let ids: Vec<&str> = pending.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "{backend}: oldest first");

        let fraud = Resolution {
            outcome: Outcome::Fraud,
            by: "ops".into(),
            at: 300,
            blocks: vec!["dni".into(), "email".into()],
        };
        let done = rt
            .block_on(store.store.resolve_review("a", &fraud))
            .unwrap();
        assert!(
            matches!(&done, Resolved::Now(r) if r.resolution.is_some()),
            "{backend}"
        );
        let again = rt
            .block_on(store.store.resolve_review("a", &fraud))
            .unwrap();
        assert!(matches!(again, Resolved::Already(_)), "{backend}");
        let unknown = rt
            .block_on(store.store.resolve_review("zz", &fraud))
            .unwrap();
        assert_eq!(unknown, Resolved::Unknown, "{backend}");
        assert_eq!(rt.block_on(store.store.reviews(true)).unwrap().len(), 1);
        assert_eq!(rt.block_on(store.store.reviews(false)).unwrap().len(), 2);

        // The DNI is blocked, the address is not; a blocked key stops the plan.
        let plan = StorePlan {
            now: 400,
            blocks: [
                (KeyKind::Email, "e1"),
                (KeyKind::Ip, "i1"),
                (KeyKind::Dni, "d1"),
            ]
            .iter()
            .map(|(fact, hash)| BlockedKey::new(*fact, &format!("{hash:0>32}")).unwrap())
            .collect(),
            counters: vec![quota("q:after-block", 5)],
            ..StorePlan::default()
        };
        let answer = store.run(&plan);
        assert_eq!(answer.blocked, Some(2), "{backend}");
        assert_eq!(answer.counters, None, "{backend}: nothing counted");
    });
}
