//! The embedded store's file: what survives a reopen, and what expiry gives back.

use super::*;
use crate::state::store::{Acquired, ClaimOp, Counter};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn counting(keys: std::ops::Range<u32>, expires_at: i64) -> StorePlan {
    StorePlan {
        now: 0,
        counters: keys
            .map(|i| Counter {
                key: format!("q:p:dni:{i:032x}:day:2026-11-25"),
                limit: 5,
                expires_at,
                enforced: true,
                add: 1,
            })
            .collect(),
        ..StorePlan::default()
    }
}

#[test]
fn what_was_counted_and_claimed_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let rt = rt();
    let key;
    {
        let store = EmbeddedStore::open(&path, 0, Duration::from_secs(60)).unwrap();
        key = store.hash_key().to_vec();
        rt.block_on(async {
            for _ in 0..3 {
                store.execute(&counting(0..1, 1000)).await.unwrap();
            }
            let claim = StorePlan {
                now: 0,
                claim: Some(ClaimOp {
                    key: "w:pe:abc".into(),
                    hold_until: 120,
                }),
                ..StorePlan::default()
            };
            store.execute(&claim).await.unwrap();
            store.settle("w:pe:abc", Some(5000), 1).await.unwrap();
            store.flush().await.unwrap();
        });
    }
    let store = EmbeddedStore::open(&path, 10, Duration::from_secs(60)).unwrap();
    assert_eq!(store.hash_key(), key, "the hash key is kept with the state");
    rt.block_on(async {
        let answer = store.execute(&counting(0..1, 1000)).await.unwrap();
        assert_eq!(answer.counters, Some(Acquired::Granted(vec![4])));
        let again = StorePlan {
            now: 10,
            claim: Some(ClaimOp {
                key: "w:pe:abc".into(),
                hold_until: 130,
            }),
            ..StorePlan::default()
        };
        let claimed = store.execute(&again).await.unwrap().claim;
        assert_eq!(claimed, Some(crate::state::store::Claim::Done));
    });
}

#[test]
fn expired_entries_leave_the_file_and_their_space_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let rt = rt();
    let size = || std::fs::metadata(&path).unwrap().len();
    let store = EmbeddedStore::open(&path, 0, Duration::from_secs(60)).unwrap();
    // Six days of 20 000 distinct keys each, every day's expiring before the next.
    let mut sizes = Vec::new();
    for day in 0..6i64 {
        rt.block_on(async {
            let mut plan = counting(0..20_000, (day + 1) * 100);
            plan.now = day * 100;
            for c in &mut plan.counters {
                c.key = format!("{}:{day}", c.key);
            }
            store.execute(&plan).await.unwrap();
            store.flush().await.unwrap();
            store.purge_expired((day + 1) * 100).await.unwrap();
            store.flush().await.unwrap();
            assert_eq!(store.size().await.unwrap(), 0);
        });
        sizes.push(size());
    }
    // The file stops growing: later days reuse the pages earlier days freed.
    let (second, last) = (sizes[1], sizes[5]);
    assert!(
        last <= second + second / 10,
        "the file kept growing day after day: {sizes:?}"
    );
    drop(store);
    // Reopened, the file is compacted: it gives the space back.
    let _reopened = EmbeddedStore::open(&path, 1000, Duration::from_secs(60)).unwrap();
    let compacted = size();
    assert!(
        compacted < last / 2,
        "compaction at open gave back space: {sizes:?} -> {compacted} bytes"
    );
}

#[test]
fn a_reviews_claim_and_notes_are_there_after_a_reopen() {
    use crate::state::store::review::{Changed, Note, ReviewChange};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let rt = rt();
    let review = Review {
        id: "r1".into(),
        at: 100,
        route: "cips".into(),
        policy: "cips".into(),
        ..Review::default()
    };
    {
        let store = EmbeddedStore::open(&path, 0, Duration::from_secs(60)).unwrap();
        rt.block_on(async {
            store.add_review(&review).await.unwrap();
            let note = ReviewChange::Note(Note {
                by: "ana".into(),
                at: 110,
                text: "asked for a receipt".into(),
            });
            let claim = ReviewChange::Claim {
                by: "ana".into(),
                until: 400,
            };
            for change in [note, claim] {
                let changed = store.change_review("r1", &change, 110).await.unwrap();
                assert!(matches!(changed, Changed::Now(_)), "{changed:?}");
            }
        });
    }
    let store = EmbeddedStore::open(&path, 120, Duration::from_secs(60)).unwrap();
    let kept = rt.block_on(store.review("r1")).unwrap().unwrap();
    assert_eq!(kept.notes.len(), 1);
    assert_eq!(
        kept.claim.map(|c| (c.by, c.until)),
        Some(("ana".into(), 400))
    );
}

#[test]
fn payment_codes_and_their_events_are_there_after_a_reopen_until_their_end() {
    use crate::state::store::codes::{CodeEvent, PaymentCode, Settled};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let rt = rt();
    let code = |code: &str, keep_until| PaymentCode {
        code: code.into(),
        request_id: "r1".into(),
        route: "cips".into(),
        keys: vec![("dni".into(), "0".repeat(32))],
        amount: None,
        currency: None,
        order: None,
        review: true,
        created_at: 100,
        expires_at: 200,
        keep_until,
    };
    {
        let store = EmbeddedStore::open(&path, 0, Duration::from_secs(60)).unwrap();
        rt.block_on(async {
            assert!(store.record_code(&code("111", 1_000)).await.unwrap());
            assert!(store.record_code(&code("222", 300)).await.unwrap());
            let settled = store.settle_code("111", CodeEvent::Expired, 210).await;
            assert!(matches!(settled, Ok(Settled::First(_))), "{settled:?}");
        });
    }
    let store = EmbeddedStore::open(&path, 500, Duration::from_secs(60)).unwrap();
    let kept = rt.block_on(store.code("111")).unwrap().unwrap();
    assert_eq!(kept.events.get(&CodeEvent::Expired), Some(&210));
    assert!(kept.record.review);
    assert_eq!(
        rt.block_on(store.code("222")).unwrap(),
        None,
        "a record past its end is not loaded"
    );
    rt.block_on(store.purge_expired(1_000)).unwrap();
    drop(store);
    let store = EmbeddedStore::open(&path, 0, Duration::from_secs(60)).unwrap();
    assert_eq!(
        rt.block_on(store.code("111")).unwrap(),
        None,
        "a purged record leaves the file"
    );
}
