//! The identity rules planned and concluded on facts, answers and failures of the store.

use super::*;
use crate::core::calendar::Period;
use crate::core::identity::document::{document, DocumentError, DocumentKind};
use crate::core::identity::key_list::KeyHasher;
use crate::core::plan::{Acquired, Binding};
use crate::core::request::selector::Selector;

fn rules(limits: Vec<KeyLimit>, bindings: Vec<BindingRule>) -> IdentityRules {
    IdentityRules {
        selectors: FactSelectors {
            dni: Some(Selector::parse("json:/dni").unwrap()),
            ..FactSelectors::default()
        },
        body_kind: Some(BodyKind::Json),
        max_body: 1024,
        body_timeout: Duration::from_secs(1),
        on_missing_document: OnProblem::Reject,
        on_invalid_document: OnProblem::Review,
        on_invalid_fact: OnProblem::Ignore,
        blocks: Vec::new(),
        block_action: Action::Deny,
        limits,
        bindings,
        risk: None,
        order_history: false,
    }
}

fn facts(dni: &str, account: Option<&str>) -> IdentityFacts {
    IdentityFacts {
        document: Some(document(DocumentKind::Dni, dni).unwrap()),
        account: account.map(str::to_string),
        ..IdentityFacts::default()
    }
}

fn daily(limit: u64, action: Action) -> KeyLimit {
    KeyLimit {
        kind: KeyKind::Dni,
        burst: None,
        quotas: vec![crate::core::rules::quotas::Quota {
            period: Period::Day,
            limit,
        }],
        action,
    }
}

fn account_binding(action: Action) -> BindingRule {
    BindingRule {
        from: KeyKind::Dni,
        to: KeyKind::Account,
        max: 1,
        window: None,
        action,
    }
}

fn step<'r>(r: &'r IdentityRules, f: &IdentityFacts, at: &str, mode: Mode) -> Step<'r> {
    step_after(r, f, at, (mode, OnStoreError::Closed), Decision::allow())
}

/// Plan on top of a `connection` decision, under a policy's mode and failure mode.
fn step_after<'r>(
    r: &'r IdentityRules,
    f: &IdentityFacts,
    at: &str,
    (mode, on_store_error): (Mode, OnStoreError),
    connection: Decision,
) -> Step<'r> {
    let calendar = Calendar::new("America/Lima").unwrap();
    let setting = Setting {
        policy: "p",
        mode,
        on_store_error,
        now: at.parse().unwrap(),
        calendar: &calendar,
        country: None,
    };
    let hashes = KeyHashes::of(f, &KeyHasher::new(b"test"));
    plan(r, setting, f, &hashes, connection, |_| None)
}

fn asked(step: Step<'_>) -> IdentityPlan<'_> {
    match step {
        Step::Ask(plan) => *plan,
        Step::Decided(d) => panic!("decided without the store: {d:?}"),
    }
}

fn decided(step: Step) -> Decision {
    match step {
        Step::Decided(d) => d,
        Step::Ask(plan) => panic!("asked the store: {:?}", plan.store_plan()),
    }
}

#[test]
fn quotas_become_counters_in_the_lima_day() {
    let r = rules(vec![daily(3, Action::Deny)], vec![]);
    // 23:00 on the 24th in Lima.
    let plan = asked(step(
        &r,
        &facts("45678912", None),
        "2026-11-25T04:00:00Z",
        Mode::Enforce,
    ));
    let counters = &plan.store_plan().counters;
    assert_eq!(counters.len(), 1);
    assert!(
        counters[0].key.ends_with(":day:2026-11-24"),
        "{}",
        counters[0].key
    );
    assert!(!counters[0].key.contains("45678912"), "keys are hashed");
    assert_eq!(counters[0].limit, 3);
    assert!(counters[0].enforced);
    // Forgotten a minute after Lima midnight.
    let midnight: Timestamp = "2026-11-25T05:00:00Z".parse().unwrap();
    assert_eq!(counters[0].expires_at, midnight.as_second() + 60);
}

#[test]
fn a_full_quota_denies_until_the_window_ends() {
    let r = rules(vec![daily(3, Action::Deny)], vec![]);
    let plan = asked(step(
        &r,
        &facts("45678912", None),
        "2026-11-25T04:00:00Z",
        Mode::Enforce,
    ));
    let denied = plan.conclude(Ok(StoreAnswer {
        counters: Some(Acquired::Refused { index: 0 }),
        ..StoreAnswer::default()
    }));
    assert_eq!(
        denied.denied_for(),
        Some(Reason::QuotaExceeded(KeyKind::Dni, Period::Day))
    );
    let limit = denied.rate_limit().unwrap();
    assert_eq!(limit.retry_after, Duration::from_secs(3600));
    assert_eq!((limit.burst, limit.window_seconds), (3, 86_400));
}

#[test]
fn review_quotas_mark_without_refusing() {
    let r = rules(vec![daily(1, Action::Review)], vec![]);
    let f = facts("45678912", None);
    let granted = |count| {
        asked(step(&r, &f, "2026-11-25T12:00:00Z", Mode::Enforce)).conclude(Ok(StoreAnswer {
            counters: Some(Acquired::Granted(vec![count])),
            ..StoreAnswer::default()
        }))
    };
    assert_eq!(granted(1).verdict(), Verdict::Allow);
    let second = granted(2);
    assert_eq!(second.verdict(), Verdict::Review);
    assert_eq!(
        second.reasons(),
        [Reason::QuotaExceeded(KeyKind::Dni, Period::Day)]
    );
}

#[test]
fn bindings_come_before_counters_and_an_exceeded_one_denies() {
    let r = rules(
        vec![daily(2, Action::Deny)],
        vec![account_binding(Action::Deny)],
    );
    let plan = asked(step(
        &r,
        &facts("45678912", Some("b")),
        "2026-11-25T12:00:00Z",
        Mode::Enforce,
    ));
    let ops = &plan.store_plan().bindings;
    assert_eq!(ops.len(), 1);
    assert!(ops[0].enforced && ops[0].max == 1 && ops[0].expires_at.is_none());
    // The store stopped at the binding: no counters were touched.
    let denied = plan.conclude(Ok(StoreAnswer {
        bindings: vec![Binding::Exceeded { members: 1 }],
        ..StoreAnswer::default()
    }));
    assert_eq!(
        denied.denied_for(),
        Some(Reason::BindingExceeded(KeyKind::Dni, KeyKind::Account))
    );
}

#[test]
fn a_review_binding_marks_and_the_quota_still_counts() {
    let r = rules(
        vec![daily(2, Action::Deny)],
        vec![account_binding(Action::Review)],
    );
    let plan = asked(step(
        &r,
        &facts("45678912", Some("b")),
        "2026-11-25T12:00:00Z",
        Mode::Enforce,
    ));
    assert!(!plan.store_plan().bindings[0].enforced);
    let d = plan.conclude(Ok(StoreAnswer {
        bindings: vec![Binding::Exceeded { members: 1 }],
        counters: Some(Acquired::Granted(vec![1])),
        ..StoreAnswer::default()
    }));
    assert_eq!(d.verdict(), Verdict::Review);
}

#[test]
fn a_store_that_does_not_answer_refuses_even_in_shadow_mode() {
    let r = rules(vec![daily(2, Action::Deny)], vec![]);
    for mode in [Mode::Enforce, Mode::Shadow] {
        let plan = asked(step(
            &r,
            &facts("45678912", None),
            "2026-11-25T12:00:00Z",
            mode,
        ));
        let d = plan.conclude(Err(StoreFailure));
        assert_eq!(d.denied_for(), Some(Reason::StoreUnavailable), "{mode:?}");
    }
}

#[test]
fn a_policy_that_fails_open_lets_the_request_through_noted() {
    let r = rules(vec![daily(2, Action::Deny)], vec![]);
    let f = facts("45678912", None);
    let open = (Mode::Enforce, OnStoreError::Open);
    let plan = asked(step_after(
        &r,
        &f,
        "2026-11-25T12:00:00Z",
        open,
        Decision::allow(),
    ));
    let d = plan.conclude(Err(StoreFailure));
    assert_eq!(d.verdict(), Verdict::Allow);
    assert_eq!(d.primary_reason(), Some(Reason::StoreUnavailable));
}

#[test]
fn fact_problems_follow_the_policy_without_the_store() {
    let r = rules(vec![daily(2, Action::Deny)], vec![]);
    let missing = IdentityFacts {
        problems: vec![FactProblem::MissingDocument],
        ..IdentityFacts::default()
    };
    assert_eq!(
        decided(step(&r, &missing, "2026-11-25T12:00:00Z", Mode::Enforce)).denied_for(),
        Some(Reason::BadFact(FactProblem::MissingDocument))
    );
    let invalid = IdentityFacts {
        problems: vec![FactProblem::InvalidDocument(DocumentError::BadFormat)],
        ..IdentityFacts::default()
    };
    let d = decided(step(&r, &invalid, "2026-11-25T12:00:00Z", Mode::Enforce));
    assert_eq!(d.verdict(), Verdict::Review);
    let bad_email = IdentityFacts {
        problems: vec![FactProblem::InvalidEmail],
        ..IdentityFacts::default()
    };
    let d = decided(step(&r, &bad_email, "2026-11-25T12:00:00Z", Mode::Enforce));
    assert_eq!(d.verdict(), Verdict::Allow);
}

#[test]
fn a_shadowed_connection_denial_outweighs_a_later_review() {
    let r = rules(vec![], vec![]);
    let connection = Decision::deny(Reason::IpBlocked).in_mode(Mode::Shadow);
    assert_eq!(
        (connection.verdict(), connection.shadow()),
        (Verdict::Allow, Some(Verdict::Deny))
    );
    // An invalid document is a review under these rules.
    let facts = IdentityFacts {
        problems: vec![FactProblem::InvalidDocument(DocumentError::BadFormat)],
        ..IdentityFacts::default()
    };
    let shadow = (Mode::Shadow, OnStoreError::Closed);
    let d = decided(step_after(
        &r,
        &facts,
        "2026-11-25T12:00:00Z",
        shadow,
        connection,
    ));
    assert_eq!(d.verdict(), Verdict::Allow);
    assert_eq!(d.shadow(), Some(Verdict::Deny));
    assert_eq!(d.reasons()[0], Reason::IpBlocked);
}

#[test]
fn shadow_mode_lets_rules_through_but_not_malformed_requests() {
    let mut blocked = rules(vec![], vec![]);
    let mut list = crate::core::identity::key_list::KeyList::default();
    assert!(list.add(KeyKind::Dni, "45678912", false));
    blocked.blocks.push(KeyBlock {
        kind: KeyKind::Dni,
        list,
    });
    let d = decided(step(
        &blocked,
        &facts("45678912", None),
        "2026-11-25T12:00:00Z",
        Mode::Shadow,
    ));
    assert_eq!(
        (d.verdict(), d.shadow()),
        (Verdict::Allow, Some(Verdict::Deny))
    );
    let malformed = Decision::deny(Reason::MalformedBody("duplicate_key")).in_mode(Mode::Shadow);
    assert_eq!(malformed.verdict(), Verdict::Deny);
}

#[test]
fn an_order_with_an_amount_counts_in_each_keys_history_after_the_quotas() {
    let mut r = rules(vec![daily(3, Action::Deny)], vec![]);
    r.order_history = true;
    let mut f = facts("45678912", Some("acct-1"));
    f.amount = crate::core::money::Currency::PEN.amount("120.50");
    // 23:00 on the 24th in Lima.
    let plan = asked(step(&r, &f, "2026-11-25T04:00:00Z", Mode::Enforce));
    let counters = &plan.store_plan().counters;
    let keys: Vec<&str> = counters.iter().map(|c| c.key.as_str()).collect();
    assert!(keys[0].starts_with("q:p:dni:"), "the quota first: {keys:?}");
    let history: Vec<(&str, u64)> = counters[1..]
        .iter()
        .map(|c| (c.key.as_str(), c.add))
        .collect();
    assert_eq!(
        history.len(),
        4,
        "orders and amount, for the DNI and the account"
    );
    assert!(history
        .iter()
        .all(|(k, _)| k.starts_with("h:") && k.ends_with(":2026-11-24")));
    assert!(history
        .iter()
        .any(|(k, add)| k.starts_with("h:dni:") && k.contains(":n:") && *add == 1));
    assert!(history
        .iter()
        .any(|(k, add)| k.starts_with("h:account:") && k.contains(":PEN:") && *add == 12_050));
    // Without an amount, nothing is counted for history; off, neither.
    let plain = asked(step(
        &r,
        &facts("45678912", None),
        "2026-11-25T04:00:00Z",
        Mode::Enforce,
    ));
    assert_eq!(plain.store_plan().counters.len(), 1);
    r.order_history = false;
    let off = asked(step(&r, &f, "2026-11-25T04:00:00Z", Mode::Enforce));
    assert_eq!(off.store_plan().counters.len(), 1);
}
