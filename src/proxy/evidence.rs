//! The evidence glue: what the phases keep of an exchange on a policy that captures it
//! (`[policies.NAME.evidence]`), and the [`Exchange`] handed to the writer once the
//! request is done. Nothing is kept on other policies, and nothing here waits: the
//! writer's queue drops what it cannot take.

use super::RequestCtx;
use crate::config::EvidenceSettings;
use crate::core::evidence::EvidenceCapture;
use crate::core::request::facts::KeyKind;
use crate::observe::decision_log::{DecisionRecord, LogTime};
use crate::observe::evidence::{Evidence, Exchange, Finders, Message};
use crate::observe::metrics::Metrics;
use crate::state::runtime::Runtime;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::Instant;

/// The running writer, and the settings it seals with.
pub struct Running {
    settings: EvidenceSettings,
    writer: Arc<Evidence>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Running {
    /// The writer for `settings`: `previous`'s when it writes in the same directory (told
    /// the new recipients, retention and hash key, so that one writer and one chain run
    /// through each day across reloads), else started afresh.
    pub fn keep_or_start(
        settings: &EvidenceSettings,
        previous: Option<&Arc<Running>>,
        runtime: &Runtime,
        metrics: &Arc<Metrics>,
    ) -> Option<Arc<Running>> {
        if let Some(same) = previous.filter(|r| r.settings.dir == settings.dir) {
            if same.settings != *settings {
                same.writer.update(settings, runtime.hasher.clone());
            }
            return Some(Arc::new(Running {
                settings: settings.clone(),
                writer: same.writer.clone(),
            }));
        }
        let clock = runtime.clock();
        let now = Arc::new(move || clock.now());
        match Evidence::start(
            settings,
            runtime.hasher.clone(),
            now,
            metrics.evidence.clone(),
        ) {
            Ok(writer) => Some(Arc::new(Running {
                settings: settings.clone(),
                writer: Arc::new(writer),
            })),
            Err(e) => {
                log::error!(
                    "evidence: cannot write in {}: {e}; nothing is captured",
                    settings.dir.display()
                );
                None
            }
        }
    }
}

/// What the phases kept of one exchange.
#[derive(Default)]
pub struct EvidenceCtx {
    request_body: Option<Vec<u8>>,
    request_bytes: usize,
    /// The body was read by garita (facts, a notification): nothing more to copy.
    request_read: bool,
    response: Option<Message>,
    answered: Option<Instant>,
    /// The decision-log line, as logged.
    decision: Vec<u8>,
}

/// The capture of the request's policy, when it has one and the writer runs.
fn capture_of(ctx: &RequestCtx) -> Option<&EvidenceCapture> {
    ctx.served.evidence.as_ref()?;
    ctx.served.config.policies[ctx.policy?].evidence.as_ref()
}

/// The bound on the request's body kept, when the request is kept.
fn request_bound(ctx: &RequestCtx) -> Option<usize> {
    capture_of(ctx).filter(|c| c.request).map(|c| c.max_body)
}

/// Append what fits of `piece` to `body`, counting every byte.
fn keep_piece(body: &mut Vec<u8>, seen: &mut usize, piece: &[u8], max: usize) {
    *seen += piece.len();
    let room = max.saturating_sub(body.len());
    body.extend_from_slice(&piece[..piece.len().min(room)]);
}

/// The body garita read whole (for facts or a signature).
pub(super) fn keep_read_body(ctx: &mut RequestCtx, mut bytes: Vec<u8>) {
    let Some(max) = request_bound(ctx) else {
        return;
    };
    let e = &mut ctx.evidence;
    e.request_read = true;
    e.request_bytes = bytes.len();
    bytes.truncate(max);
    e.request_body = Some(bytes);
}

/// A piece of a body garita did not read, on its way to the backend.
pub(super) fn on_request_body(ctx: &mut RequestCtx, body: &Option<Bytes>) {
    if ctx.evidence.request_read {
        return;
    }
    let (Some(max), Some(piece)) = (request_bound(ctx), body) else {
        return;
    };
    let e = &mut ctx.evidence;
    let kept = e.request_body.get_or_insert_with(Vec::new);
    keep_piece(kept, &mut e.request_bytes, piece, max);
}

/// The backend's answer head.
pub(super) fn on_answer_head(ctx: &mut RequestCtx, head: &ResponseHeader) {
    let Some(capture) = capture_of(ctx) else {
        return;
    };
    let headers = capture.response.then(|| {
        head.headers
            .iter()
            .filter(|(n, _)| capture.keeps(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    });
    ctx.evidence.answered = Some(Instant::now());
    let Some(headers) = headers else {
        return;
    };
    ctx.evidence.response = Some(Message {
        status: Some(head.status.as_u16()),
        headers,
        ..Message::default()
    });
}

/// A piece of the backend's answer body.
pub(super) fn on_answer_body(ctx: &mut RequestCtx, body: &Option<Bytes>) {
    let Some(piece) = body else {
        return;
    };
    let Some(max) = capture_of(ctx).map(|c| c.max_body) else {
        return;
    };
    if let Some(m) = &mut ctx.evidence.response {
        keep_piece(&mut m.body, &mut m.body_bytes, piece, max);
    }
}

/// The decision's log line for the record, when the policy captures.
pub(super) fn decision_line(ctx: &RequestCtx, record: &DecisionRecord<'_>) -> Option<Vec<u8>> {
    capture_of(ctx).map(|_| {
        let mut line = Vec::with_capacity(512);
        record.encode(&mut line);
        line
    })
}

/// Keep the decision's log line (from [`decision_line`]).
pub(super) fn keep_decision(ctx: &mut RequestCtx, line: Option<Vec<u8>>) {
    if let Some(line) = line {
        ctx.evidence.decision = line;
    }
}

/// The request is done: hand its exchange to the writer.
pub(super) fn account(session: &Session, ctx: &mut RequestCtx) {
    if capture_of(ctx).is_none() {
        return;
    }
    // The request's own `Served`, so that the ctx can give up what it kept meanwhile.
    let served = ctx.served.clone();
    let (Some(running), Some(capture)) = (
        &served.evidence,
        ctx.policy
            .and_then(|id| served.config.policies[id].evidence.as_ref()),
    ) else {
        return;
    };
    let req = session.req_header();
    let request = capture.request.then(|| Message {
        method: Some(req.method.as_str().to_string()),
        target: Some(
            req.uri
                .path_and_query()
                .map_or_else(|| req.uri.to_string(), ToString::to_string),
        ),
        version: Some(version_text(req.version)),
        status: None,
        headers: req
            .headers
            .iter()
            .filter(|(n, _)| capture.keeps(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
        body: ctx.evidence.request_body.take().unwrap_or_default(),
        body_bytes: ctx.evidence.request_bytes,
    });
    let policy = ctx
        .policy
        .map(|id| ctx.served.config.policies[id].name.to_string())
        .unwrap_or_default();
    let hashed = |kind| {
        ctx.facts
            .as_ref()
            .and_then(|(_, h)| h.get(kind))
            .map(str::to_string)
    };
    let finders = Finders {
        request_id: ctx.request_id.as_str().to_string(),
        order: ctx.facts.as_ref().and_then(|(f, _)| f.order.clone()),
        code: ctx.code.named.clone(),
        dni: hashed(KeyKind::Dni),
        email: hashed(KeyKind::Email),
    };
    let at = ctx.served.runtime.now();
    let since = |t: Instant| (t.duration_since(ctx.started).as_secs_f64() * 1e6).round() / 1e3;
    let exchange = Exchange {
        at,
        ts: LogTime::of(at),
        route: ctx.route.to_string(),
        policy,
        finders,
        request,
        decision: std::mem::take(&mut ctx.evidence.decision),
        response: ctx.evidence.response.take(),
        answered_ms: ctx.evidence.answered.map(since),
        done_ms: since(Instant::now()),
    };
    running.writer.offer(exchange);
}

fn version_text(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}
