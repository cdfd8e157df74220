//! The three stores keep the same rules: the in-process one, the embedded file and a real
//! redis-server each run one table of cases ([`CASES`]), a fresh store for every case.
//!
//! Memory and embedded judge every expiry by the plan's time; Redis expires keys on its
//! own clock, with TTLs set relative to the plan's time. A case that needs a window to
//! pass moves its plans' time on and calls [`Tried::let_pass`], which waits the real
//! seconds only for Redis.

mod support;

use garita::core::money::Currency;
use garita::core::request::facts::KeyKind;
use garita::state::store::outbox::OutboxEvent;
use garita::state::store::queue::{Cursor, ReviewQuery, ReviewStatus};
use garita::state::store::review::{
    Changed, Escalation, Note, Outcome, Resolution, Resolved, Review, ReviewChange,
};
use garita::state::store::{
    Acquired, BindOp, Binding, Block, BlockNote, BlockedKey, Claim, ClaimOp, CodeEvent, Counter,
    EmbeddedStore, GcraOp, Held, MemoryStore, PaymentCode, Rate, RedisStore, Settled, Store,
    StoreAnswer, StorePlan,
};
use std::future::Future;
use std::time::Duration;
use support::Redis;

/// One store under one case, and a runtime to await it on.
struct Tried<'a> {
    store: &'a dyn Store,
    rt: &'a tokio::runtime::Runtime,
    case: &'static str,
}

impl Tried<'_> {
    /// The store and the case, for assertion messages.
    fn who(&self) -> String {
        format!("{} store, case {:?}", self.store.backend(), self.case)
    }

    fn call<T, E: std::fmt::Display>(&self, call: impl Future<Output = Result<T, E>>) -> T {
        self.rt
            .block_on(call)
            .unwrap_or_else(|e| panic!("{}: {e}", self.who()))
    }

    fn run(&self, plan: &StorePlan) -> StoreAnswer {
        self.call(self.store.execute(plan))
    }

    /// Let `seconds` pass for the store's own clock (the caller moves its plans' time on):
    /// only Redis has one.
    fn let_pass(&self, seconds: u64) {
        if self.store.backend() == "redis" {
            std::thread::sleep(Duration::from_millis(seconds * 1000 + 500));
        }
    }
}

type Case = fn(&Tried<'_>);

/// Every rule a store keeps, by name.
const CASES: &[(&str, Case)] = &[
    ("a quota lets exactly its limit through", quota_exact_limit),
    ("a counter restarts after its window", counter_window),
    ("sums add amounts and reads create nothing", sums_and_reads),
    ("a shared rate and a quota in one plan", rate_and_quota),
    ("an enforced shared rate stops the plan", rate_stops_plan),
    ("a binding holds at most max members", binding_max),
    ("a bound member lapses with its window", binding_window),
    ("a binding kept forever never lapses", binding_forever),
    (
        "an enforced binding stops the plan before the counters",
        binding_stops_plan,
    ),
    (
        "a review binding is reported and the plan goes on",
        binding_reported,
    ),
    ("claims: new, in flight, released, delivered", claim_states),
    ("claims and deliveries expire", claim_expiry),
    ("reviews: recorded, listed, resolved once", reviews),
    ("blocks: added once, listed oldest first, removed", blocks),
    (
        "inspect shows what is held; a reset forgets counters",
        inspect_and_reset,
    ),
    (
        "the queue pages by cursor, oldest or newest first",
        queue_pages,
    ),
    ("the queue's filters and counts", queue_filters),
    ("a key's reviews, every status, newest first", queue_by_key),
    (
        "claims, escalations and notes; a decision stands",
        review_changes,
    ),
    (
        "a resolution owes the shop one event, kept until delivered",
        outbox,
    ),
    (
        "payment codes: kept once, each event settles once",
        payment_codes,
    ),
    (
        "a new code and its creation's counters in one call; a known code counts nothing",
        code_counted,
    ),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Run every case, each on the store `fresh` makes for it.
fn conform(fresh: impl Fn(usize) -> Box<dyn Store>) {
    let rt = runtime();
    for (i, (case, run)) in CASES.iter().enumerate() {
        let store = fresh(i);
        run(&Tried {
            store: &*store,
            rt: &rt,
            case,
        });
    }
}

#[test]
fn the_memory_store_keeps_every_rule() {
    conform(|_| Box::new(MemoryStore::new()));
}

#[test]
fn the_embedded_store_keeps_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    conform(|i| {
        let path = dir.path().join(format!("case-{i}.redb"));
        Box::new(EmbeddedStore::open(&path, 0, Duration::from_secs(1)).unwrap())
    });
}

#[test]
fn redis_keeps_every_rule() {
    let redis = Redis::start();
    conform(|i| {
        let prefix = format!("case{i}");
        Box::new(RedisStore::new(&redis.url(), &prefix, None, Duration::from_secs(2)).unwrap())
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

fn counting(now: i64, counters: Vec<Counter>) -> StorePlan {
    StorePlan {
        now,
        counters,
        ..StorePlan::default()
    }
}

fn quota_exact_limit(t: &Tried<'_>) {
    let plan = counting(1000, vec![quota("q:p:dni:a", 3)]);
    for expected in 1..=3 {
        assert_eq!(
            t.run(&plan).counters,
            Some(Acquired::Granted(vec![expected])),
            "{}",
            t.who()
        );
    }
    assert_eq!(
        t.run(&plan).counters,
        Some(Acquired::Refused { index: 0 }),
        "{}",
        t.who()
    );
    // All or nothing: the full quota refuses the plan and the other counts nothing.
    let both = counting(1000, vec![quota("q:p:email:b", 5), quota("q:p:dni:a", 3)]);
    assert_eq!(
        t.run(&both).counters,
        Some(Acquired::Refused { index: 1 }),
        "{}",
        t.who()
    );
    let alone = counting(1000, vec![quota("q:p:email:b", 5)]);
    assert_eq!(
        t.run(&alone).counters,
        Some(Acquired::Granted(vec![1])),
        "{}: the refused plan counted nothing",
        t.who()
    );
}

fn counter_window(t: &Tried<'_>) {
    let daily = |now: i64| quota_until("q:p:dni:w", 2, now + 1);
    for expected in [1, 2] {
        let answer = t.run(&counting(1000, vec![daily(1000)]));
        assert_eq!(
            answer.counters,
            Some(Acquired::Granted(vec![expected])),
            "{}",
            t.who()
        );
    }
    assert_eq!(
        t.run(&counting(1000, vec![daily(1000)])).counters,
        Some(Acquired::Refused { index: 0 }),
        "{}",
        t.who()
    );
    t.let_pass(1);
    assert_eq!(
        t.run(&counting(1002, vec![daily(1002)])).counters,
        Some(Acquired::Granted(vec![1])),
        "{}: a new window starts from nothing",
        t.who()
    );
}

fn quota_until(key: &str, limit: u64, expires_at: i64) -> Counter {
    Counter {
        expires_at,
        ..quota(key, limit)
    }
}

fn sums_and_reads(t: &Tried<'_>) {
    let who = t.who();
    let today = Counter::tally("s:today".into(), 12_050, 100_000);
    let yesterday = Counter::tally("s:yesterday".into(), 0, 100_000);
    let both = counting(1000, vec![today.clone(), yesterday.clone()]);
    assert_eq!(
        t.run(&both).counters,
        Some(Acquired::Granted(vec![12_050, 0])),
        "{who}"
    );
    assert_eq!(
        t.run(&both).counters,
        Some(Acquired::Granted(vec![24_100, 0])),
        "{who}"
    );
    // A quota with no room refuses the plan, and the amount before it is taken back.
    let refused = counting(1000, vec![today.clone(), quota("q:full", 0)]);
    assert_eq!(
        t.run(&refused).counters,
        Some(Acquired::Refused { index: 1 }),
        "{who}"
    );
    let read = counting(1000, vec![Counter { add: 0, ..today }, yesterday]);
    assert_eq!(
        t.run(&read).counters,
        Some(Acquired::Granted(vec![24_100, 0])),
        "{who}"
    );
    let held = t.call(t.store.inspect(&["s:yesterday".to_string()]));
    assert!(held.is_empty(), "{who}: a read creates nothing: {held:?}");
}

fn gcra(key: &str, burst: u32, interval_ms: u64, enforced: bool) -> GcraOp {
    GcraOp {
        key: key.into(),
        interval_ms,
        burst,
        now_ms: 1_000_000,
        enforced,
    }
}

fn rate_and_quota(t: &Tried<'_>) {
    let plan = StorePlan {
        now: 1000,
        rates: vec![gcra("r", 100, 1, true)],
        counters: vec![quota("q", 2)],
        ..StorePlan::default()
    };
    for expected in [1, 2] {
        let answer = t.run(&plan);
        assert!(
            matches!(answer.rates[..], [Rate::Allowed { .. }]),
            "{}",
            t.who()
        );
        assert_eq!(
            answer.counters,
            Some(Acquired::Granted(vec![expected])),
            "{}",
            t.who()
        );
    }
    assert_eq!(
        t.run(&plan).counters,
        Some(Acquired::Refused { index: 0 }),
        "{}",
        t.who()
    );
}

fn rate_stops_plan(t: &Tried<'_>) {
    let who = t.who();
    // One an hour: the second request within the hour is over the rate.
    let plan = |enforced| StorePlan {
        now: 1000,
        rates: vec![gcra("r:p:dni:x", 1, 3_600_000, enforced)],
        counters: vec![quota("q:p:dni:x", 10)],
        claim: Some(ClaimOp {
            key: "w:p:x".into(),
            hold_until: 1120,
        }),
        ..StorePlan::default()
    };
    let first = t.run(&plan(true));
    assert!(matches!(first.rates[..], [Rate::Allowed { .. }]), "{who}");
    assert_eq!(first.counters, Some(Acquired::Granted(vec![1])), "{who}");
    let limited = t.run(&plan(true));
    assert!(
        matches!(limited.rates[..], [Rate::Limited { retry_after_ms }] if retry_after_ms > 0),
        "{who}: {limited:?}"
    );
    assert_eq!(
        (limited.counters, limited.claim),
        (None, None),
        "{who}: nothing after the rate"
    );
    // Only reported when not enforced: the plan goes on.
    let reported = t.run(&plan(false));
    assert!(
        matches!(reported.rates[..], [Rate::Limited { .. }]),
        "{who}"
    );
    assert_eq!(
        reported.counters,
        Some(Acquired::Granted(vec![2])),
        "{who}: the limited request counted nothing, this one counts"
    );
}

fn bind(key: &str, member: &str, max: u64, expires_at: Option<i64>, enforced: bool) -> BindOp {
    BindOp {
        key: key.into(),
        member: member.into(),
        max,
        expires_at,
        enforced,
    }
}

fn binding(t: &Tried<'_>, now: i64, op: BindOp) -> Binding {
    let answer = t.run(&StorePlan {
        now,
        bindings: vec![op],
        ..StorePlan::default()
    });
    assert_eq!(answer.bindings.len(), 1, "{}", t.who());
    answer.bindings[0]
}

fn binding_max(t: &Tried<'_>) {
    let set = "b:p:dni:d1:account";
    let op = |member| bind(set, member, 2, Some(100_000), true);
    assert_eq!(
        binding(t, 1000, op("a1")),
        Binding::Within { members: 1 },
        "{}",
        t.who()
    );
    assert_eq!(
        binding(t, 1000, op("a1")),
        Binding::Within { members: 1 },
        "{}: a known member is no new one",
        t.who()
    );
    assert_eq!(
        binding(t, 1000, op("a2")),
        Binding::Within { members: 2 },
        "{}",
        t.who()
    );
    assert_eq!(
        binding(t, 1000, op("a3")),
        Binding::Exceeded { members: 2 },
        "{}",
        t.who()
    );
    assert_eq!(
        binding(t, 1000, op("a2")),
        Binding::Within { members: 2 },
        "{}: the refused member was not added",
        t.who()
    );
}

fn binding_window(t: &Tried<'_>) {
    let set = "b:p:dni:d2:account";
    let op = |member, now: i64| bind(set, member, 1, Some(now + 10), true);
    assert_eq!(
        binding(t, 1000, op("a1", 1000)),
        Binding::Within { members: 1 },
        "{}",
        t.who()
    );
    assert_eq!(
        binding(t, 1005, op("a2", 1005)),
        Binding::Exceeded { members: 1 },
        "{}: within a1's window",
        t.who()
    );
    assert_eq!(
        binding(t, 1011, op("a2", 1011)),
        Binding::Within { members: 1 },
        "{}: a1 lapsed",
        t.who()
    );
}

fn binding_forever(t: &Tried<'_>) {
    let set = "b:p:dni:d3:account";
    assert_eq!(
        binding(t, 1000, bind(set, "a1", 1, None, true)),
        Binding::Within { members: 1 },
        "{}",
        t.who()
    );
    let years_later = 1000 + 10 * 365 * 86_400;
    assert_eq!(
        binding(t, years_later, bind(set, "a2", 1, None, true)),
        Binding::Exceeded { members: 1 },
        "{}",
        t.who()
    );
}

/// A set that already holds `a0` with room for one, then a plan binding `a9` to it
/// (exceeded), a member to a second set, and a quota.
fn exceeded_plan(t: &Tried<'_>, enforced: bool) -> StoreAnswer {
    binding(t, 1000, bind("b:p:dni:full:account", "a0", 1, None, true));
    t.run(&StorePlan {
        now: 1000,
        bindings: vec![
            bind("b:p:dni:full:account", "a9", 1, None, enforced),
            bind("b:p:email:e:dni", "d9", 1, None, true),
        ],
        counters: vec![quota("q:p:dni:after", 5)],
        ..StorePlan::default()
    })
}

fn binding_stops_plan(t: &Tried<'_>) {
    let who = t.who();
    let answer = exceeded_plan(t, true);
    assert_eq!(
        answer.bindings,
        [Binding::Exceeded { members: 1 }],
        "{who}: the later binding is not carried out"
    );
    assert_eq!(answer.counters, None, "{who}: no counter is touched");
    assert_eq!(
        t.run(&counting(1000, vec![quota("q:p:dni:after", 5)]))
            .counters,
        Some(Acquired::Granted(vec![1])),
        "{who}: the stopped plan counted nothing"
    );
    assert_eq!(
        binding(t, 1000, bind("b:p:email:e:dni", "d8", 1, None, true)),
        Binding::Within { members: 1 },
        "{who}: the stopped plan bound nothing"
    );
}

fn binding_reported(t: &Tried<'_>) {
    let who = t.who();
    let answer = exceeded_plan(t, false);
    assert_eq!(
        answer.bindings,
        [
            Binding::Exceeded { members: 1 },
            Binding::Within { members: 1 }
        ],
        "{who}"
    );
    assert_eq!(answer.counters, Some(Acquired::Granted(vec![1])), "{who}");
}

fn claim(t: &Tried<'_>, key: &str, now: i64, hold_until: i64) -> Option<Claim> {
    t.run(&StorePlan {
        now,
        claim: Some(ClaimOp {
            key: key.into(),
            hold_until,
        }),
        ..StorePlan::default()
    })
    .claim
}

fn claim_states(t: &Tried<'_>) {
    let who = t.who();
    let key = "w:p:event-1";
    assert_eq!(claim(t, key, 1000, 1120), Some(Claim::New), "{who}");
    assert_eq!(claim(t, key, 1001, 1121), Some(Claim::InFlight), "{who}");
    // A failed delivery releases the claim: the provider's retry goes through.
    t.call(t.store.settle(key, None, 1002));
    assert_eq!(claim(t, key, 1003, 1123), Some(Claim::New), "{who}");
    t.call(t.store.settle(key, Some(1003 + 86_400), 1003));
    assert_eq!(claim(t, key, 1004, 1124), Some(Claim::Done), "{who}");
    assert_eq!(
        claim(t, "w:p:event-2", 1004, 1124),
        Some(Claim::New),
        "{who}: another event is its own"
    );
}

fn claim_expiry(t: &Tried<'_>) {
    let who = t.who();
    let (held, delivered) = ("w:p:unsettled", "w:p:delivered");
    assert_eq!(claim(t, held, 1000, 1001), Some(Claim::New), "{who}");
    assert_eq!(claim(t, delivered, 1000, 1120), Some(Claim::New), "{who}");
    t.call(t.store.settle(delivered, Some(1001), 1000));
    assert_eq!(claim(t, delivered, 1000, 1120), Some(Claim::Done), "{who}");
    t.let_pass(1);
    assert_eq!(
        claim(t, held, 1002, 1122),
        Some(Claim::New),
        "{who}: a claim never settled lapses"
    );
    assert_eq!(
        claim(t, delivered, 1002, 1122),
        Some(Claim::New),
        "{who}: a delivery is remembered for its window only"
    );
}

fn hash(text: &str) -> String {
    format!("{text:0>32}")
}

fn reviews(t: &Tried<'_>) {
    let who = t.who();
    let review = |id: &str, at| Review {
        id: id.into(),
        at,
        route: "cips".into(),
        policy: "cips".into(),
        keys: vec![("dni".into(), hash("d1")), ("ip".into(), hash("i1"))],
        amount: Some("1500.00".into()),
        currency: Some("PEN".into()),
        reasons: vec!["risk_score".into()],
        score: Some(60),
        ..Review::default()
    };
    t.call(t.store.add_review(&review("b", 200)));
    t.call(t.store.add_review(&review("a", 100)));
    let pending = t.call(t.store.reviews(true));
    let ids: Vec<&str> = pending.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "{who}: oldest first");
    assert_eq!(pending[0], review("a", 100), "{who}: kept as recorded");

    let fraud = Resolution {
        outcome: Outcome::Fraud,
        by: "ops".into(),
        at: 300,
        blocks: vec!["dni".into(), "email".into()],
    };
    let done = t.call(t.store.resolve_review("a", &fraud, false));
    assert!(
        matches!(&done, Resolved::Now(r) if r.resolution.is_some()),
        "{who}"
    );
    let legit = Resolution {
        outcome: Outcome::Approved,
        ..fraud.clone()
    };
    let again = t.call(t.store.resolve_review("a", &legit, false));
    assert!(
        matches!(&again, Resolved::Already(r)
            if r.resolution.as_ref().map(|r| r.outcome) == Some(Outcome::Fraud)),
        "{who}: the first resolution stands: {again:?}"
    );
    let unknown = t.call(t.store.resolve_review("zz", &fraud, false));
    assert_eq!(unknown, Resolved::Unknown, "{who}");
    assert_eq!(t.call(t.store.reviews(true)).len(), 1, "{who}");
    assert_eq!(t.call(t.store.reviews(false)).len(), 2, "{who}");

    // The DNI is blocked, the address is not; a blocked key stops the plan.
    let plan = StorePlan {
        now: 400,
        blocks: [
            (KeyKind::Email, "e1"),
            (KeyKind::Ip, "i1"),
            (KeyKind::Dni, "d1"),
        ]
        .iter()
        .map(|(fact, h)| BlockedKey::new(*fact, &hash(h)).unwrap())
        .collect(),
        counters: vec![quota("q:after-block", 5)],
        ..StorePlan::default()
    };
    let answer = t.run(&plan);
    assert_eq!(answer.blocked, Some(2), "{who}");
    assert_eq!(answer.counters, None, "{who}: nothing counted");
}

fn blocks(t: &Tried<'_>) {
    let who = t.who();
    let block = |fact: &str, h: &str, since| Block {
        fact: fact.into(),
        hash: hash(h),
        note: BlockNote {
            since,
            by: "ops".into(),
            reason: Some("chargeback".into()),
        },
    };
    assert!(t.call(t.store.block(&block("email", "e2", 20))), "{who}");
    assert!(t.call(t.store.block(&block("dni", "d2", 10))), "{who}");
    assert!(
        !t.call(t.store.block(&block("dni", "d2", 30))),
        "{who}: already blocked"
    );
    assert_eq!(
        t.call(t.store.blocks()),
        [block("dni", "d2", 10), block("email", "e2", 20)],
        "{who}: oldest first, the first note kept"
    );
    let plan = StorePlan {
        now: 40,
        blocks: vec![BlockedKey::new(KeyKind::Dni, &hash("d2")).unwrap()],
        counters: vec![quota("q:p:dni:d2", 5)],
        ..StorePlan::default()
    };
    assert_eq!(t.run(&plan).blocked, Some(0), "{who}");
    assert!(t.call(t.store.unblock("dni", &hash("d2"))), "{who}");
    assert!(
        !t.call(t.store.unblock("dni", &hash("d2"))),
        "{who}: no longer there"
    );
    let answer = t.run(&plan);
    assert_eq!(answer.blocked, None, "{who}");
    assert_eq!(answer.counters, Some(Acquired::Granted(vec![1])), "{who}");
    assert_eq!(
        t.call(t.store.blocks()),
        [block("email", "e2", 20)],
        "{who}"
    );
}

/// What inspect showed, in words that every store can agree on (expiries differ: Redis
/// reads them off its own clock).
fn described(held: &[Held]) -> Vec<String> {
    let mut out: Vec<String> = held
        .iter()
        .map(|h| match h {
            Held::Counter { key, count, .. } => format!("counter {key} = {count}"),
            Held::Binding { key, members } => {
                let names: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
                format!("binding {key} = {names:?}")
            }
            Held::Replay { key, delivered, .. } => format!("replay {key} delivered={delivered}"),
            Held::Rate { key, .. } => format!("rate {key}"),
            Held::Blocked { key, note } => format!("blocked {key} by {}", note.by),
        })
        .collect();
    out.sort();
    out
}

fn inspect_and_reset(t: &Tried<'_>) {
    let who = t.who();
    let d = hash("d4");
    let plan = StorePlan {
        now: 1000,
        rates: vec![gcra(&format!("r:p:dni:{d}"), 5, 60_000, true)],
        bindings: vec![bind(&format!("b:p:dni:{d}:account"), "a1", 2, None, true)],
        counters: vec![quota(&format!("q:p:dni:{d}:day"), 5)],
        claim: Some(ClaimOp {
            key: "w:p:e4".into(),
            hold_until: 1120,
        }),
        ..StorePlan::default()
    };
    t.run(&plan);
    t.run(&StorePlan {
        claim: None,
        ..plan.clone()
    });
    t.call(t.store.settle("w:p:e4", Some(1000 + 86_400), 1000));
    t.call(t.store.block(&Block {
        fact: "dni".into(),
        hash: d.clone(),
        note: BlockNote {
            since: 1000,
            by: "ops".into(),
            reason: None,
        },
    }));
    let prefixes: Vec<String> = [
        format!("q:p:dni:{d}"),
        format!("b:p:dni:{d}"),
        format!("r:p:dni:{d}"),
        "w:p:".to_string(),
        format!("blk:dni:{d}"),
    ]
    .into();
    let held = described(&t.call(t.store.inspect(&prefixes)));
    let mut expected = vec![
        format!("counter q:p:dni:{d}:day = 2"),
        format!("binding b:p:dni:{d}:account = [\"a1\"]"),
        format!("rate r:p:dni:{d}"),
        "replay w:p:e4 delivered=true".to_string(),
        format!("blocked blk:dni:{d} by ops"),
    ];
    expected.sort();
    assert_eq!(held, expected, "{who}");
    assert!(
        t.call(t.store.inspect(&["q:p:dni:other".to_string()]))
            .is_empty(),
        "{who}: nothing under another prefix"
    );

    // A support reset forgets the identity's counters and rates, nothing else.
    let gone = t.call(
        t.store
            .reset_counters(&[format!("q:p:dni:{d}"), format!("r:p:dni:{d}")]),
    );
    assert_eq!(
        gone,
        [format!("q:p:dni:{d}:day"), format!("r:p:dni:{d}")],
        "{who}"
    );
    let after = described(&t.call(t.store.inspect(&prefixes)));
    let kept: Vec<String> = expected
        .into_iter()
        .filter(|e| !e.starts_with("counter") && !e.starts_with("rate"))
        .collect();
    assert_eq!(after, kept, "{who}");
    assert_eq!(
        t.run(&counting(1000, vec![quota(&format!("q:p:dni:{d}:day"), 5)]))
            .counters,
        Some(Acquired::Granted(vec![1])),
        "{who}: the quota starts again"
    );
}

/// A review record as the proxy writes one: decided at `at`, on `route` and `policy`.
fn queued(id: &str, at: i64, route: &str, reasons: &[&str], score: u32, amount: &str) -> Review {
    Review {
        id: id.into(),
        at,
        route: route.into(),
        policy: route.into(),
        keys: vec![("dni".into(), hash(id))],
        amount: Some(amount.into()),
        currency: Some("PEN".into()),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        score: Some(score),
        ..Review::default()
    }
}

fn ids(reviews: &[Review]) -> Vec<&str> {
    reviews.iter().map(|r| r.id.as_str()).collect()
}

fn approve(by: &str, at: i64) -> Resolution {
    Resolution {
        outcome: Outcome::Approved,
        by: by.into(),
        at,
        blocks: Vec::new(),
    }
}

fn queue_pages(t: &Tried<'_>) {
    let who = t.who();
    for (i, at) in [100, 200, 300, 400, 500, 600, 700].into_iter().enumerate() {
        let review = queued(
            &format!("r{}", i + 1),
            at,
            "cips",
            &["risk_score"],
            60,
            "10.00",
        );
        t.call(t.store.add_review(&review));
    }
    t.call(t.store.resolve_review("r3", &approve("ops", 800), false));
    let now = 1000;
    let query = |after: Option<Cursor>, newest_first| ReviewQuery {
        limit: 2,
        after,
        newest_first,
        ..ReviewQuery::default()
    };
    let first = t.call(t.store.review_page(&query(None, false), now));
    assert_eq!(ids(&first.reviews), ["r1", "r2"], "{who}");
    assert_eq!(
        first.total, 6,
        "{who}: the resolved one is not in the open queue"
    );
    assert!(!first.capped, "{who}");
    let second = t.call(t.store.review_page(&query(first.next.clone(), false), now));
    assert_eq!(ids(&second.reviews), ["r4", "r5"], "{who}");
    let third = t.call(t.store.review_page(&query(second.next.clone(), false), now));
    assert_eq!(ids(&third.reviews), ["r6", "r7"], "{who}");
    assert_eq!(third.next, None, "{who}: the last page");
    let newest = t.call(t.store.review_page(&query(None, true), now));
    assert_eq!(ids(&newest.reviews), ["r7", "r6"], "{who}");
    let older = t.call(t.store.review_page(&query(newest.next.clone(), true), now));
    assert_eq!(ids(&older.reviews), ["r5", "r4"], "{who}");
    let cursor = first.next.clone().unwrap();
    assert_eq!(Cursor::parse(&cursor.to_text()), Some(cursor), "{who}");
    // A review arriving meanwhile does not shift the pages already walked.
    t.call(
        t.store
            .add_review(&queued("r0", 50, "cips", &[], 0, "1.00")),
    );
    let again = t.call(t.store.review_page(&query(first.next.clone(), false), now));
    assert_eq!(ids(&again.reviews), ["r4", "r5"], "{who}");
    let resolved = ReviewQuery {
        status: Some(ReviewStatus::Resolved),
        ..query(None, false)
    };
    let done = t.call(t.store.review_page(&resolved, now));
    assert_eq!(ids(&done.reviews), ["r3"], "{who}");
    assert_eq!(
        t.call(t.store.review("r3"))
            .and_then(|r| r.resolution)
            .map(|r| r.by),
        Some("ops".to_string()),
        "{who}"
    );
    assert_eq!(t.call(t.store.review("nope")), None, "{who}");
}

fn queue_filters(t: &Tried<'_>) {
    let who = t.who();
    let now = 10_000;
    for review in [
        queued(
            "a",
            now - 7200,
            "cips",
            &["risk_score", "large_order=40"],
            40,
            "1500.00",
        ),
        queued(
            "b",
            now - 600,
            "cips",
            &["binding_exceeded:dni:account"],
            0,
            "20.00",
        ),
        queued(
            "c",
            now - 60,
            "checkout",
            &["risk_score", "new_device=30"],
            70,
            "99.90",
        ),
        Review {
            currency: Some("USD".into()),
            ..queued("d", now - 30, "checkout", &["risk_score"], 90, "1500.00")
        },
    ] {
        t.call(t.store.add_review(&review));
    }
    let select = |query: ReviewQuery| {
        let page = t.call(
            t.store
                .review_page(&ReviewQuery { limit: 50, ..query }, now),
        );
        ids(&page.reviews)
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let route = ReviewQuery {
        route: Some("checkout".into()),
        ..ReviewQuery::default()
    };
    assert_eq!(select(route), ["c", "d"], "{who}: by route");
    let rule = ReviewQuery {
        rule: Some("large_order".into()),
        ..ReviewQuery::default()
    };
    assert_eq!(select(rule), ["a"], "{who}: by a risk rule's name");
    let binding = ReviewQuery {
        rule: Some("binding_exceeded".into()),
        ..ReviewQuery::default()
    };
    assert_eq!(select(binding), ["b"], "{who}: by a reason's code");
    let scores = ReviewQuery {
        min_score: Some(50),
        max_score: Some(80),
        ..ReviewQuery::default()
    };
    assert_eq!(select(scores), ["c"], "{who}: by score");
    let amounts = ReviewQuery {
        currency: Some(Currency::parse("PEN").unwrap()),
        min_amount: Some(2_000),
        max_amount: Some(150_000),
        ..ReviewQuery::default()
    };
    assert_eq!(
        select(amounts),
        ["a", "b", "c"],
        "{who}: amounts in soles, bounds included, dollars left out"
    );
    let recent = ReviewQuery {
        newer_than: Some(600),
        ..ReviewQuery::default()
    };
    assert_eq!(select(recent), ["b", "c", "d"], "{who}: by age");
    let old = ReviewQuery {
        older_than: Some(3600),
        ..ReviewQuery::default()
    };
    assert_eq!(select(old), ["a"], "{who}");

    let claim = ReviewChange::Claim {
        by: "ana".into(),
        until: now + 300,
    };
    assert!(matches!(
        t.call(t.store.change_review("c", &claim, now)),
        Changed::Now(_)
    ));
    let mine = ReviewQuery {
        assignee: Some("ana".into()),
        ..ReviewQuery::default()
    };
    assert_eq!(select(mine), ["c"], "{who}: by who holds it");
    let page = t.call(t.store.review_page(&ReviewQuery::default(), now));
    assert_eq!(
        page.by_status,
        [
            (ReviewStatus::Waiting, 3),
            (ReviewStatus::Claimed, 1),
            (ReviewStatus::Escalated, 0),
            (ReviewStatus::Resolved, 0)
        ],
        "{who}: the counts beside the status filter"
    );
    let waiting = ReviewQuery {
        status: Some(ReviewStatus::Waiting),
        ..ReviewQuery::default()
    };
    assert_eq!(select(waiting), ["a", "b", "d"], "{who}: by status");
    let later = t.call(t.store.review_page(
        &ReviewQuery {
            status: Some(ReviewStatus::Waiting),
            ..ReviewQuery::default()
        },
        now + 301,
    ));
    assert_eq!(
        later.total, 4,
        "{who}: a claim past its time no longer holds"
    );
}

fn queue_by_key(t: &Tried<'_>) {
    let who = t.who();
    let now = 10_000;
    let shared = ("dni".to_string(), hash("shared"));
    let sharing = |id: &str, at: i64| Review {
        keys: vec![shared.clone(), ("phone".into(), hash(id))],
        ..queued(id, at, "cips", &["risk_score"], 60, "10.00")
    };
    for review in [
        sharing("k1", 100),
        queued("other", 150, "cips", &["risk_score"], 60, "10.00"),
        sharing("k2", 200),
        sharing("k3", 300),
    ] {
        t.call(t.store.add_review(&review));
    }
    assert!(matches!(
        t.call(t.store.resolve_review("k1", &approve("ana", now), false)),
        Resolved::Now(_)
    ));
    let history = ReviewQuery {
        key: Some(shared.clone()),
        all_statuses: true,
        newest_first: true,
        limit: 2,
        ..ReviewQuery::default()
    };
    let page = t.call(t.store.review_page(&history, now));
    assert_eq!(ids(&page.reviews), ["k3", "k2"], "{who}: newest first");
    assert_eq!(page.total, 3, "{who}: the resolved one counts too");
    let rest = t.call(t.store.review_page(
        &ReviewQuery {
            after: page.next.clone(),
            ..history.clone()
        },
        now,
    ));
    assert_eq!(ids(&rest.reviews), ["k1"], "{who}: and pages by cursor");
    let open = t.call(t.store.review_page(
        &ReviewQuery {
            key: Some(shared.clone()),
            limit: 10,
            ..ReviewQuery::default()
        },
        now,
    ));
    assert_eq!(ids(&open.reviews), ["k2", "k3"], "{who}: open only");
    let phone = t.call(t.store.review_page(
        &ReviewQuery {
            key: Some(("phone".into(), hash("k2"))),
            all_statuses: true,
            limit: 10,
            ..ReviewQuery::default()
        },
        now,
    ));
    assert_eq!(ids(&phone.reviews), ["k2"], "{who}: each key its own");
    let nobody = t.call(t.store.review_page(
        &ReviewQuery {
            key: Some(("email".into(), hash("nobody"))),
            all_statuses: true,
            limit: 10,
            ..ReviewQuery::default()
        },
        now,
    ));
    assert!(nobody.reviews.is_empty() && nobody.total == 0, "{who}");
}

fn review_changes(t: &Tried<'_>) {
    let who = t.who();
    let now = 5_000;
    t.call(
        t.store
            .add_review(&queued("x", now - 10, "cips", &["risk_score"], 60, "10.00")),
    );
    let claim = |by: &str, until| ReviewChange::Claim {
        by: by.into(),
        until,
    };
    let changed = t.call(t.store.change_review("x", &claim("ana", now + 300), now));
    assert!(
        matches!(&changed, Changed::Now(r) if r.claim.as_ref().is_some_and(|c| c.by == "ana")),
        "{who}: {changed:?}"
    );
    let other = t.call(
        t.store
            .change_review("x", &claim("bo", now + 300), now + 10),
    );
    assert!(
        matches!(&other, Changed::HeldBy(r) if r.claim.as_ref().is_some_and(|c| c.by == "ana")),
        "{who}: another sees who holds it: {other:?}"
    );
    let release = ReviewChange::Release { by: "bo".into() };
    assert!(
        matches!(
            t.call(t.store.change_review("x", &release, now + 20)),
            Changed::HeldBy(_)
        ),
        "{who}: only the holder lets go"
    );
    let note = ReviewChange::Note(Note {
        by: "ana".into(),
        at: now + 30,
        text: "called the buyer".into(),
    });
    assert!(matches!(
        t.call(t.store.change_review("x", &note, now + 30)),
        Changed::Now(_)
    ));
    let empty = ReviewChange::Note(Note {
        by: "ana".into(),
        at: now + 31,
        text: "  ".into(),
    });
    assert!(
        matches!(
            t.call(t.store.change_review("x", &empty, now + 31)),
            Changed::Refused(_)
        ),
        "{who}: an empty note is kept nowhere"
    );
    let taken = t.call(
        t.store
            .change_review("x", &claim("bo", now + 700), now + 301),
    );
    assert!(
        matches!(&taken, Changed::Now(r) if r.claim.as_ref().is_some_and(|c| c.by == "bo")),
        "{who}: a claim past its time can be taken: {taken:?}"
    );
    let escalate = ReviewChange::Escalate(Escalation {
        by: "bo".into(),
        at: now + 320,
    });
    let escalated = t.call(t.store.change_review("x", &escalate, now + 320));
    assert!(
        matches!(&escalated, Changed::Now(r) if r.escalation.is_some() && r.claim.is_none()),
        "{who}: {escalated:?}"
    );
    let held = t.call(t.store.review("x")).unwrap();
    assert_eq!(
        ReviewStatus::of(&held, now + 330),
        ReviewStatus::Escalated,
        "{who}"
    );
    assert_eq!(held.notes.len(), 1, "{who}: the note was kept");
    assert_eq!(held.notes[0].text, "called the buyer", "{who}");

    let resolved = t.call(
        t.store
            .resolve_review("x", &approve("lead", now + 400), false),
    );
    assert!(
        matches!(&resolved, Resolved::Now(r) if r.claim.is_none()),
        "{who}: {resolved:?}"
    );
    let after = t.call(
        t.store
            .change_review("x", &claim("ana", now + 900), now + 410),
    );
    assert!(
        matches!(&after, Changed::Resolved(r) if r.resolution.as_ref().is_some_and(|r| r.by == "lead")),
        "{who}: a decision stands: {after:?}"
    );
    assert_eq!(
        t.call(t.store.change_review("nope", &release, now)),
        Changed::Unknown,
        "{who}"
    );
}

fn outbox(t: &Tried<'_>) {
    let who = t.who();
    let now = 2_000;
    t.call(t.store.add_review(&Review {
        order: Some("ORD-1".into()),
        ..queued("o1", now - 100, "cips", &["risk_score"], 60, "10.00")
    }));
    t.call(
        t.store
            .add_review(&queued("o2", now - 90, "cips", &[], 60, "10.00")),
    );
    t.call(t.store.resolve_review("o2", &approve("ops", now), false));
    assert_eq!(
        t.call(t.store.outbox_len()),
        0,
        "{who}: not asked to notify"
    );
    t.call(t.store.resolve_review("o1", &approve("ops", now), true));
    t.call(t.store.resolve_review("o1", &approve("bo", now), true));
    assert_eq!(
        t.call(t.store.outbox_len()),
        1,
        "{who}: one event per resolution"
    );

    let taken = t.call(t.store.outbox_take(now, now + 60, 10));
    assert_eq!(taken.len(), 1, "{who}");
    let event = taken[0].clone();
    assert_eq!(event.id, "review-resolved-o1", "{who}");
    let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
    assert_eq!(
        (body["order"].as_str(), body["by"].as_str()),
        (Some("ORD-1"), Some("ops")),
        "{who}"
    );
    assert!(
        t.call(t.store.outbox_take(now + 1, now + 61, 10))
            .is_empty(),
        "{who}: leased to the sender that took it"
    );
    let failed: OutboxEvent = event.failed(now + 1, "answered 500");
    t.call(t.store.outbox_settle(&failed, false));
    assert!(
        t.call(t.store.outbox_take(now + 5, now + 65, 10))
            .is_empty(),
        "{who}: not before its backoff"
    );
    let again = t.call(t.store.outbox_take(now + 6, now + 66, 10));
    assert_eq!(again.len(), 1, "{who}");
    assert_eq!(
        (again[0].attempts, again[0].last_error.as_deref()),
        (1, Some("answered 500")),
        "{who}"
    );
    t.call(t.store.outbox_settle(&again[0], true));
    assert_eq!(
        t.call(t.store.outbox_len()),
        0,
        "{who}: delivered, forgotten"
    );
    assert!(t
        .call(t.store.outbox_take(now + 999, now + 1059, 10))
        .is_empty());
    // A late failure report for an event delivered meanwhile brings nothing back.
    t.call(t.store.outbox_settle(&failed, false));
    assert_eq!(t.call(t.store.outbox_len()), 0, "{who}");
}

fn payment_code(code: &str, now: i64) -> PaymentCode {
    PaymentCode {
        code: code.into(),
        request_id: format!("req-{code}"),
        route: "cip-create".into(),
        keys: vec![
            ("dni".into(), hash("11223344")),
            ("email".into(), hash("a@b.pe")),
        ],
        amount: Some("150.00".into()),
        currency: Some("PEN".into()),
        order: Some(format!("T-{code}")),
        review: false,
        created_at: now,
        expires_at: now + 86_400,
        // Long enough for Redis' clock, which is the real one.
        keep_until: now + 3_600,
    }
}

fn payment_codes(t: &Tried<'_>) {
    // Redis expires a record at its end on its own clock: the real time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let first = payment_code("2364051", now);
    assert!(t.call(t.store.record_code(&first)), "{}", t.who());
    let mut again = payment_code("2364051", now);
    again.order = Some("another".into());
    assert!(
        !t.call(t.store.record_code(&again)),
        "{}: a code is kept once",
        t.who()
    );
    assert!(t.call(t.store.record_code(&payment_code("2364052", now))));
    assert_eq!(t.call(t.store.open_codes(now)), 2, "{}", t.who());
    assert_eq!(
        t.call(t.store.settle_code("999", CodeEvent::Paid, now)),
        Settled::Unknown,
        "{}",
        t.who()
    );
    let Settled::First(ledger) = t.call(t.store.settle_code("2364051", CodeEvent::Paid, now + 5))
    else {
        panic!("{}: the first paid is new", t.who());
    };
    assert_eq!(
        ledger.record,
        first,
        "{}: the record as first kept",
        t.who()
    );
    assert_eq!(ledger.events.get(&CodeEvent::Paid), Some(&(now + 5)));
    match t.call(t.store.settle_code("2364051", CodeEvent::Paid, now + 9)) {
        Settled::Again(ledger) => assert_eq!(ledger.events[&CodeEvent::Paid], now + 5),
        other => panic!("{}: a second paid is a repeat: {other:?}", t.who()),
    }
    assert!(matches!(
        t.call(
            t.store
                .settle_code("2364051", CodeEvent::Refunded, now + 20)
        ),
        Settled::First(_)
    ));
    assert_eq!(
        t.call(t.store.open_codes(now)),
        1,
        "{}: one left open",
        t.who()
    );
    let held = t.call(t.store.code("2364051")).expect("the code is held");
    assert_eq!(held.events.len(), 2, "{}", t.who());
    assert_eq!(t.call(t.store.code("nope")), None);
}

fn code_counted(t: &Tried<'_>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let tally = |key: &str, add: u64| Counter::tally(key.into(), add, now + 3_600);
    let created = counting(
        now,
        vec![tally("pc:dni:h1:c", 1), tally("pc:email:h2:c", 1)],
    );
    let read = counting(
        now,
        vec![tally("pc:dni:h1:c", 0), tally("pc:email:h2:c", 0)],
    );
    let counted = |expected: u64, why: &str| {
        assert_eq!(
            t.run(&read).counters,
            Some(Acquired::Granted(vec![expected, expected])),
            "{}: {why}",
            t.who()
        );
    };
    let code = payment_code("7700001", now);
    assert!(
        t.call(t.store.record_code_counted(&code, &created)),
        "{}: a new code",
        t.who()
    );
    counted(1, "counted once each");
    assert!(
        !t.call(t.store.record_code_counted(&code, &created)),
        "{}: the same code again",
        t.who()
    );
    counted(1, "a known code counts nothing");
    assert!(t.call(
        t.store
            .record_code_counted(&payment_code("7700002", now), &created)
    ));
    counted(2, "a second new code");
    assert_eq!(t.call(t.store.open_codes(now)), 2, "{}", t.who());
    assert!(t.call(t.store.code("7700001")).is_some(), "{}", t.who());
}
