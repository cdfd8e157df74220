//! `garita simulate`: one payment code's flow, driven through a running gateway against
//! the shop's sandbox backend, step by step, for a go-live checklist.
//!
//! From the config it takes the route that creates codes (a policy with
//! `payment_codes`), the route that hears the provider (a webhook policy with `settles`),
//! its scheme and first secret (from the environment, as the gateway reads it), and the
//! upstream. It creates a code (a body built from the policy's `json:` fact selectors, or
//! `--body`), reads the code from the answer as the gateway does, then sends the flow's
//! notifications ([`flows`]) signed as the provider would. After each step it prints what
//! garita did, what the backend answered, and what the store holds for the code (through
//! the admin API, `GET /admin/codes/{code}`), and stops at the first step that differs
//! from what the flow expects, naming it: the exit status is then 1.
//!
//! The `timeout` flow asks the backend to answer late with `X-Sandbox-Delay-Ms` (longer
//! than `upstream.read_timeout_ms`): a sandbox that does not honour it cannot be tested
//! for it. The `forged` flow also sends its forgery to the upstream directly, past
//! garita: a backend reachable that way must refuse it itself.

mod exchange;
pub mod flows;

use super::admin_client::{self, Target};
use crate::config::Config;
use crate::core::rules::code_life::{CodeCapture, Settles};
use crate::core::webhook::{sign, Profile};
use crate::state::store::CodeEvent;
use exchange::{exchange, Answer};
use flows::{Expect, Flow, Send};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// What the config says about the flow's two routes.
struct Setup {
    gateway: SocketAddr,
    backend: Option<SocketAddr>,
    create_path: String,
    capture: CodeCapture,
    body: Value,
    notify_path: String,
    profile: Profile,
    key: Vec<u8>,
    tolerance: i64,
    settles: Settles,
    read_timeout: Duration,
}

/// A route's first path without wildcards.
fn literal_path(route: &crate::core::request::route::Route) -> Option<String> {
    route
        .patterns
        .iter()
        .map(ToString::to_string)
        .find(|p| !p.contains('*'))
}

/// Set `pointer` in `value` to `text`, making the objects on the way.
fn put(value: &mut Value, pointer: &str, text: Value) {
    let mut at = value;
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(Default::default());
        }
        let map = at.as_object_mut().expect("an object");
        if i + 1 == tokens.len() {
            map.insert(token.clone(), text);
            return;
        }
        at = map.entry(token.clone()).or_insert(Value::Null);
    }
}

fn setup(
    config: &Config,
    gateway: Option<SocketAddr>,
    body: Option<&Path>,
) -> Result<Setup, String> {
    let named = |what: &str| format!("{}: {what}", config.source.display());
    let mut creation = None;
    let mut notification = None;
    for route in config.routes.routes() {
        let policy = &config.policies[route.policy];
        if let (None, Some(capture), Some(path)) =
            (&creation, &policy.payment_codes, literal_path(route))
        {
            creation = Some((path, capture.clone(), policy));
        }
        if let (None, Some(rule), Some(path)) =
            (&notification, &policy.webhook, literal_path(route))
        {
            if let Some(settles) = &rule.settles {
                notification = Some((path, rule, settles.clone()));
            }
        }
    }
    let (create_path, capture, policy) = creation.ok_or_else(|| {
        named("no route's policy has [payment_codes] (with a path without wildcards)")
    })?;
    let (notify_path, rule, settles) = notification.ok_or_else(|| {
        named(
            "no route's policy is a webhook with [webhook.settles] (with a path without wildcards)",
        )
    })?;
    let body = match body {
        Some(path) => serde_json::from_slice(
            &std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: not JSON: {e}", path.display()))?,
        None => sample_body(policy),
    };
    let gateway = match gateway {
        Some(addr) => addr,
        None => {
            let mut addr = *config
                .listen
                .first()
                .ok_or_else(|| named("server.listen is empty"))?;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            addr
        }
    };
    let backend = config
        .upstream
        .tls
        .is_none()
        .then(|| config.upstream.addresses.first().copied())
        .flatten();
    Ok(Setup {
        gateway,
        backend,
        create_path,
        capture,
        body,
        notify_path,
        profile: rule.profile.clone(),
        key: rule
            .keys
            .first()
            .cloned()
            .ok_or_else(|| named("the webhook has no secret"))?,
        tolerance: rule.tolerance,
        settles,
        read_timeout: config.upstream.read_timeout,
    })
}

/// A creation request's body from the policy's `json:` selectors, with sandbox values.
fn sample_body(policy: &crate::core::policy::Policy) -> Value {
    let mut body = Value::Object(Default::default());
    let Some(rules) = &policy.identity else {
        return body;
    };
    let s = &rules.selectors;
    let expiry = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S+00:00").to_string())
        .unwrap_or_default();
    let order = format!("SIM-{:08x}", rand::random::<u32>());
    let samples = [
        (&s.dni, "45678912".to_string()),
        (&s.dni_type, "DNI".to_string()),
        (&s.email, "sandbox@example.pe".to_string()),
        (&s.phone, "+51987654321".to_string()),
        (&s.account, "garita-simulate".to_string()),
        (&s.device, "garita-simulate".to_string()),
        (&s.amount, "10.00".to_string()),
        (&s.currency, "PEN".to_string()),
        (&s.billing_country, "PE".to_string()),
        (&s.order, order),
        (&s.code_expiry, expiry),
    ];
    for (selector, value) in samples {
        if let Some(pointer) = selector.as_ref().and_then(|s| s.json_pointer()) {
            put(&mut body, pointer, Value::String(value));
        }
    }
    body
}

/// A notification of `event` for `code`, as the provider would send it.
fn notification(setup: &Setup, code: &str, event: CodeEvent, op: u8) -> Vec<u8> {
    let mut body = Value::Object(Default::default());
    let name = setup
        .settles
        .events
        .iter()
        .find(|(_, e)| *e == event)
        .map_or(event.as_str(), |(name, _)| name.as_str());
    if let Some(p) = setup.settles.event.json_pointer() {
        put(&mut body, p, Value::String(name.to_string()));
    }
    if let Some(p) = setup.settles.code.json_pointer() {
        put(&mut body, p, Value::String(code.to_string()));
    }
    let operation = format!("{:x}{op:02}", rand::random::<u32>());
    put(
        &mut body,
        "/operationNumber",
        Value::String(operation.clone()),
    );
    put(&mut body, "/id", Value::String(format!("evt_{operation}")));
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The request a step sends: where, its headers and body.
struct Outgoing {
    to: SocketAddr,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn outgoing(
    setup: &Setup,
    code: &str,
    send: Send,
    last: Option<&Outgoing>,
) -> Result<Outgoing, String> {
    let now = jiff::Timestamp::now().as_second();
    let signed = |event, op, at: i64| {
        let body = notification(setup, code, event, op);
        let id = format!("evt_sim_{:016x}", rand::random::<u64>());
        let mut headers = sign(&setup.profile, &setup.key, &body, at, &id);
        headers.push(("Content-Type".into(), "application/json".into()));
        (headers, body)
    };
    let (to, headers, body) = match send {
        Send::Notify { event, op } => {
            let (h, b) = signed(event, op, now);
            (setup.gateway, h, b)
        }
        Send::Stale { event, op } => {
            let (h, b) = signed(event, op, now - setup.tolerance - 3_600);
            (setup.gateway, h, b)
        }
        Send::Forged { event, op } | Send::ForgedToBackend { event, op } => {
            let (h, mut b) = signed(event, op, now);
            // A byte added after signing: the signature no longer covers the body.
            b.extend_from_slice(b" ");
            let to = match send {
                Send::ForgedToBackend { .. } => setup
                    .backend
                    .ok_or("the upstream speaks TLS or has no address: the forgery cannot be sent to it directly")?,
                _ => setup.gateway,
            };
            (to, h, b)
        }
        Send::Slow { event, op } => {
            let (mut h, b) = signed(event, op, now);
            let late = setup.read_timeout.as_millis() + 1_000;
            h.push(("X-Sandbox-Delay-Ms".into(), late.to_string()));
            (setup.gateway, h, b)
        }
        Send::Again => {
            let last = last.ok_or("nothing to send again")?;
            // The retry of a slow delivery comes back at normal speed.
            let headers = last
                .headers
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("x-sandbox-delay-ms"))
                .cloned()
                .collect();
            (last.to, headers, last.body.clone())
        }
    };
    Ok(Outgoing { to, headers, body })
}

/// What garita did with a request, read from its answer: its own refusals are JSON with
/// a `reason` and the `request_id`.
fn garita_reason(answer: &Answer) -> Option<String> {
    let json: Value = serde_json::from_slice(&answer.body).ok()?;
    json.get("request_id")?;
    json["reason"].as_str().map(str::to_string)
}

fn describe(answer: &Answer, to_backend: bool) -> String {
    if to_backend {
        return format!("the backend answered {}", answer.status);
    }
    match (garita_reason(answer), answer.status) {
        (Some(reason), 200) => format!("garita acknowledged it ({reason}), not forwarded"),
        (Some(reason), status) => format!("garita answered {status} ({reason})"),
        (None, status) => format!("forwarded, the backend answered {status}"),
    }
}

fn meets(expect: Expect, answer: &Answer, to_backend: bool) -> bool {
    let ok = (200..300).contains(&answer.status);
    let reason = garita_reason(answer);
    match expect {
        Expect::Forwarded => ok && reason.is_none(),
        Expect::Duplicate => {
            answer.status == 200 && reason.as_deref() == Some("duplicate_notification")
        }
        Expect::Refused(why) => !ok && reason.is_some_and(|r| r.starts_with(why)),
        Expect::TimedOut => answer.status == 504 && reason.as_deref() == Some("upstream_timeout"),
        Expect::BackendRefuses => to_backend && !ok,
    }
}

fn expected(expect: Expect) -> String {
    match expect {
        Expect::Forwarded => "forwarded and accepted by the backend (2xx)".into(),
        Expect::Duplicate => {
            "acknowledged by garita as delivered before (200), not forwarded".into()
        }
        Expect::Refused(why) => format!("refused by garita ({why})"),
        Expect::TimedOut => "forwarded, then 504 from garita (upstream_timeout)".into(),
        Expect::BackendRefuses => "refused by the backend itself (not 2xx)".into(),
    }
}

/// What the store holds for `code`, as the admin API says; waits up to 2 s for `want`
/// (the gateway settles a code after its answer is sent).
fn store_view(
    admin: &admin_client::Admin,
    code: &str,
    want: &[CodeEvent],
) -> Result<(Vec<CodeEvent>, String), String> {
    let mut last = (Vec::new(), String::new());
    for _ in 0..40 {
        let (status, json) =
            admin_client::call(admin, "GET", &format!("/admin/codes/{code}"), None)?;
        if status == 404 {
            last = (Vec::new(), "no record of the code".into());
        } else if status != 200 {
            return Err(admin_client::failure(status, &json));
        } else {
            let events: Vec<CodeEvent> = CodeEvent::ALL
                .into_iter()
                .filter(|e| json["events"].get(e.as_str()).is_some())
                .collect();
            let text = if events.is_empty() {
                "kept, open, no event yet".to_string()
            } else {
                let named: Vec<String> = events
                    .iter()
                    .map(|e| {
                        format!(
                            "{} at {}",
                            e.as_str(),
                            json["events"][e.as_str()].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                format!("kept, {}", named.join(", "))
            };
            last = (events, text);
            let mut want = want.to_vec();
            want.sort();
            if last.0 == want {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(last)
}

/// Walk `flow`; the transcript, and whether every step went as expected.
pub fn run(
    target: &Target,
    flow: Flow,
    gateway: Option<SocketAddr>,
    body: Option<&Path>,
) -> Result<(String, bool), String> {
    let config = Config::load(target.config()).map_err(|e| e.to_string())?;
    let setup = setup(&config, gateway, body)?;
    let admin = admin_client::admin(target)?;
    let mut out = String::new();
    // Step 1: the code's creation.
    let body = serde_json::to_vec(&setup.body).unwrap_or_default();
    let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    let answer = exchange(setup.gateway, &setup.create_path, &headers, &body)?;
    let line = format!(
        "step 1, create: POST {} -> {}",
        setup.create_path,
        describe(&answer, false)
    );
    let code = match setup
        .capture
        .read(answer.content_type.as_deref(), &answer.body)
    {
        Ok(code) if (200..300).contains(&answer.status) => code,
        _ => {
            out.push_str(&format!("{line}\n  FAILED: expected a 2xx answer naming a payment code where payment_codes.code says\n"));
            return Ok((out, false));
        }
    };
    let (held, text) = store_view(&admin, &code, &[])?;
    out.push_str(&format!("{line}; code {code}; store: {text}\n"));
    if text == "no record of the code" || !held.is_empty() {
        out.push_str("  FAILED: expected the store to keep the new code, open\n");
        return Ok((out, false));
    }
    let mut last: Option<Outgoing> = None;
    for (i, step) in flows::steps(flow, setup.profile.signs_timestamp())
        .iter()
        .enumerate()
    {
        let n = i + 2;
        let request = outgoing(&setup, &code, step.send, last.as_ref())?;
        let to_backend = matches!(step.send, Send::ForgedToBackend { .. });
        let answer = exchange(
            request.to,
            &setup.notify_path,
            &request.headers,
            &request.body,
        )?;
        let (held, text) = store_view(&admin, &code, step.events)?;
        out.push_str(&format!(
            "step {n}, {}: POST {} -> {}; store: {text}\n",
            step.name,
            setup.notify_path,
            describe(&answer, to_backend)
        ));
        if !meets(step.expect, &answer, to_backend) {
            out.push_str(&format!(
                "  FAILED at step {n} ({}): expected {}\n",
                step.name,
                expected(step.expect)
            ));
            return Ok((out, false));
        }
        let mut want = step.events.to_vec();
        want.sort();
        if held != want {
            let names: Vec<&str> = want.iter().map(|e| e.as_str()).collect();
            out.push_str(&format!(
                "  FAILED at step {n} ({}): expected the store to hold [{}]\n",
                step.name,
                names.join(", ")
            ));
            return Ok((out, false));
        }
        last = Some(request);
    }
    out.push_str(&format!("flow {}: passed\n", flow_name(flow)));
    Ok((out, true))
}

fn flow_name(flow: Flow) -> String {
    use clap::ValueEnum;
    flow.to_possible_value()
        .map_or_else(|| format!("{flow:?}"), |v| v.get_name().to_string())
}
