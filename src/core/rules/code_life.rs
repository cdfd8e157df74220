//! A payment code's life, counted per identity key: how many codes each DNI, email,
//! phone, account, device and client address created, and how many of them were paid,
//! expired unpaid or refunded, day by day in the shop's time zone.
//!
//! The store keeps each code's record (`state::store::codes`); this module only says
//! which counters a creation or a settlement adds to and which the rules read. One counter
//! per key, outcome and local day (`pc:{fact}:{hash}:{outcome}:{day}`), kept
//! [`MAX_WINDOW_DAYS`] days past its day, so that a rule may look back that far. Keys are
//! global, not per policy: a customer's unpaid codes are theirs on every route.
//!
//! What it approximates: an outcome counts on the day its notification came, not on the
//! day the code was created (a code created on the 1st and expiring on the 3rd counts as
//! created on the 1st and expired on the 3rd); windows are whole local days, today
//! included.

use crate::core::calendar::{Calendar, Period};
use crate::core::plan::Counter;
use crate::core::request::body::{is_type, parse, BodyKind, ParsedBody};
use crate::core::request::selector::Selector;
use crate::core::webhook::Notification;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest code garita keeps (PagoEfectivo's CIPs are a few digits).
pub const MAX_CODE_LEN: usize = 64;

/// Whether `text` may be a payment code: printable ASCII without spaces, bounded.
pub fn is_code(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_CODE_LEN && text.bytes().all(|b| b.is_ascii_graphic())
}

/// What a verified notification says happened to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeEvent {
    Paid,
    Expired,
    Refunded,
}

impl CodeEvent {
    pub const ALL: [CodeEvent; 3] = [CodeEvent::Paid, CodeEvent::Expired, CodeEvent::Refunded];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeEvent::Paid => "paid",
            CodeEvent::Expired => "expired",
            CodeEvent::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// The counters this event adds to.
    pub fn outcome(self) -> Outcome {
        match self {
            CodeEvent::Paid => Outcome::Paid,
            CodeEvent::Expired => Outcome::Expired,
            CodeEvent::Refunded => Outcome::Refunded,
        }
    }
}

/// How a policy keeps the codes its backend creates.
#[derive(Debug, Clone)]
pub struct CodeCapture {
    /// Where the backend's JSON answer names the code.
    pub code: Selector,
    /// The longest answer read for it.
    pub max_response: usize,
    /// A code's life when the request does not say when it lapses.
    pub life: Duration,
    /// How long its record outlives it.
    pub keep: Duration,
}

/// Why an answer gave no code; a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCode {
    /// Not a 2xx answer: nothing was created.
    NotCreated,
    Compressed,
    Oversized,
    NotJson,
    /// The answer is JSON without a usable code where the selector points.
    Missing,
}

impl NoCode {
    pub fn as_str(self) -> &'static str {
        match self {
            NoCode::NotCreated => "not_created",
            NoCode::Compressed => "compressed",
            NoCode::Oversized => "oversized",
            NoCode::NotJson => "not_json",
            NoCode::Missing => "missing",
        }
    }
}

impl CodeCapture {
    /// Whether an answer's head lets its body be read for a code.
    pub fn admits(
        &self,
        status: u16,
        content_encoding: Option<&str>,
        content_length: Option<u64>,
    ) -> Result<(), NoCode> {
        if !(200..300).contains(&status) {
            return Err(NoCode::NotCreated);
        }
        if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
            return Err(NoCode::Compressed);
        }
        if content_length.is_some_and(|n| n > self.max_response as u64) {
            return Err(NoCode::Oversized);
        }
        Ok(())
    }

    /// The code in a whole answer's body.
    pub fn read(&self, content_type: Option<&str>, body: &[u8]) -> Result<String, NoCode> {
        if body.len() > self.max_response {
            return Err(NoCode::Oversized);
        }
        let parsed = parse(content_type, body, BodyKind::Json).map_err(|_| NoCode::NotJson)?;
        if matches!(parsed, ParsedBody::None) {
            return Err(NoCode::Missing);
        }
        let empty = http::HeaderMap::new();
        match self.code.select(&parsed, &empty, None) {
            Ok(Some(code)) if is_code(code.trim()) => Ok(code.trim().to_string()),
            _ => Err(NoCode::Missing),
        }
    }

    /// When a code created at `now` lapses, and when its record may go.
    pub fn lifetime(&self, expiry: Option<Timestamp>, now: Timestamp) -> (i64, i64) {
        let now = now.as_second();
        let lapses = expiry
            .map(Timestamp::as_second)
            .filter(|t| *t > now)
            .unwrap_or(now + self.life.as_secs() as i64);
        (lapses, lapses + self.keep.as_secs() as i64)
    }
}

/// Where a verified notification names the code it settles, and what its event types mean.
#[derive(Debug, Clone)]
pub struct Settles {
    pub code: Selector,
    pub event: Selector,
    pub events: Vec<(String, CodeEvent)>,
}

/// What a notification says of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The code and what happened to it.
    Code(String, CodeEvent),
    /// An event type that settles nothing (or no code in it): delivered, not counted.
    Other,
}

impl Settles {
    /// PagoEfectivo's: `data.cip` and `eventType` `cip.paid` / `cip.expired` / `cip.refunded`.
    pub fn pagoefectivo() -> Self {
        Self {
            code: Selector::parse("json:/data/cip").expect("a selector"),
            event: Selector::parse("json:/eventType").expect("a selector"),
            events: vec![
                ("cip.paid".into(), CodeEvent::Paid),
                ("cip.expired".into(), CodeEvent::Expired),
                ("cip.refunded".into(), CodeEvent::Refunded),
            ],
        }
    }

    /// What a verified notification's body says (read only when its `Content-Type` says
    /// JSON; the body is parsed once for this and the replay key).
    pub fn read(&self, content_type: Option<&str>, n: &Notification<'_>) -> Settlement {
        if !is_type(content_type, BodyKind::Json) {
            return Settlement::Other;
        }
        let parsed = n.json();
        let read = |s: &Selector| s.select(parsed, n.headers, n.query).ok().flatten();
        let event = read(&self.event).and_then(|text| {
            self.events
                .iter()
                .find(|(name, _)| *name == text.trim())
                .map(|(_, e)| *e)
        });
        match (event, read(&self.code)) {
            (Some(event), Some(code)) if is_code(code.trim()) => {
                Settlement::Code(code.trim().to_string(), event)
            }
            _ => Settlement::Other,
        }
    }
}

/// The longest window a rule may read, in local days.
pub const MAX_WINDOW_DAYS: u16 = 30;
/// How long a day's counters are kept past its end.
const KEEP_SECONDS: i64 = MAX_WINDOW_DAYS as i64 * 86_400 + 60;

/// What a code's counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Created,
    Paid,
    Expired,
    Refunded,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Created,
        Outcome::Paid,
        Outcome::Expired,
        Outcome::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Paid => "paid",
            Outcome::Expired => "expired",
            Outcome::Refunded => "refunded",
        }
    }

    /// The outcome a settling event counts as (`paid`, `expired`, `refunded`).
    pub fn settled(event: &str) -> Option<Self> {
        match event {
            "paid" => Some(Outcome::Paid),
            "expired" => Some(Outcome::Expired),
            "refunded" => Some(Outcome::Refunded),
            _ => None,
        }
    }
}

/// The store key of one identity key's counter of `outcome` on local `day`.
pub fn counter_key(fact: &str, hash: &str, outcome: Outcome, day: &str) -> String {
    ["pc:", fact, ":", hash, ":", outcome.as_str(), ":", day].concat()
}

/// The counters a code's creation or settlement adds one to: one per identity key, today.
pub fn count<'a>(
    keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    outcome: Outcome,
    now: Timestamp,
    calendar: &Calendar,
) -> Vec<Counter> {
    let today = calendar.window(Period::Day, now);
    let expires_at = today.ends_at.as_second() + KEEP_SECONDS;
    keys.into_iter()
        .map(|(fact, hash)| {
            Counter::tally(counter_key(fact, hash, outcome, &today.id), 1, expires_at)
        })
        .collect()
}

/// The local days a window of `days` reads, today first.
pub fn window_days(calendar: &Calendar, now: Timestamp, days: u16) -> Vec<String> {
    calendar
        .days_back(now, usize::from(days.clamp(1, MAX_WINDOW_DAYS)))
        .into_iter()
        .map(|w| w.id)
        .collect()
}

/// How long a counter read for a window is kept if this read made it (it does not: a read
/// adds 0), for the plan.
pub fn read_expiry(now: Timestamp) -> i64 {
    now.as_second() + KEEP_SECONDS
}

/// When a code lapses, from the creation request's expiry text: RFC 3339 (`T` or a space
/// between date and time), or a local date and time in the shop's zone
/// (`2026-12-10 18:00:00`). PagoEfectivo sends `2026-12-10 18:00:00-05:00`.
pub fn parse_expiry(text: &str, calendar: &Calendar) -> Option<Timestamp> {
    let text = text.trim().replacen(' ', "T", 1);
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    calendar.local_instant(civil)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lima() -> Calendar {
        Calendar::new("America/Lima").unwrap()
    }

    #[test]
    fn outcomes_count_today_per_key_and_are_kept_for_the_longest_window() {
        let now: Timestamp = "2026-12-06T04:00:00Z".parse().unwrap();
        let counters = count(
            [("dni", "aa"), ("email", "bb")],
            Outcome::Expired,
            now,
            &lima(),
        );
        let keys: Vec<&str> = counters.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "pc:dni:aa:expired:2026-12-05",
                "pc:email:bb:expired:2026-12-05"
            ],
            "still the 5th in Lima"
        );
        assert!(counters.iter().all(|c| c.add == 1 && !c.enforced));
        let day_ends: Timestamp = "2026-12-06T05:00:00Z".parse().unwrap();
        assert_eq!(
            counters[0].expires_at,
            day_ends.as_second() + 30 * 86_400 + 60
        );
        assert_eq!(window_days(&lima(), now, 7).len(), 7);
        assert_eq!(window_days(&lima(), now, 90).len(), 30, "at most 30 days");
        assert_eq!(Outcome::settled("refunded"), Some(Outcome::Refunded));
        assert_eq!(Outcome::settled("created"), None);
    }

    fn capture() -> CodeCapture {
        CodeCapture {
            code: Selector::parse("json:/data/cip").unwrap(),
            max_response: 64,
            life: Duration::from_secs(7 * 86_400),
            keep: Duration::from_secs(30 * 86_400),
        }
    }

    #[test]
    fn a_code_is_read_from_a_plain_json_answer_only() {
        let c = capture();
        let json = Some("application/json; charset=utf-8");
        assert_eq!(
            c.read(json, br#"{"data":{"cip":2364051}}"#),
            Ok("2364051".into())
        );
        assert_eq!(c.read(json, br#"{"data":{"cip":" 99 "}}"#), Ok("99".into()));
        assert_eq!(c.read(json, br#"{"data":{}}"#), Err(NoCode::Missing));
        assert_eq!(c.read(json, b""), Err(NoCode::Missing));
        assert_eq!(c.read(Some("text/html"), b"<p>"), Err(NoCode::NotJson));
        assert_eq!(c.read(json, br#"{"data":"#), Err(NoCode::NotJson));
        let long = format!(r#"{{"data":{{"cip":1}},"pad":"{}"}}"#, "x".repeat(64));
        assert_eq!(c.read(json, long.as_bytes()), Err(NoCode::Oversized));
        assert_eq!(c.admits(201, None, Some(30)), Ok(()));
        assert_eq!(c.admits(201, Some("identity"), None), Ok(()));
        assert_eq!(c.admits(400, None, None), Err(NoCode::NotCreated));
        assert_eq!(c.admits(200, Some("gzip"), None), Err(NoCode::Compressed));
        assert_eq!(c.admits(200, None, Some(65)), Err(NoCode::Oversized));
        let now: Timestamp = "2026-12-06T15:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-12-08T15:00:00Z".parse().unwrap();
        let (lapses, gone) = c.lifetime(Some(later), now);
        assert_eq!(lapses, later.as_second());
        assert_eq!(gone - lapses, 30 * 86_400);
        let (lapses, _) = c.lifetime(None, now);
        assert_eq!(lapses - now.as_second(), 7 * 86_400, "the default life");
        let (lapses, _) = c.lifetime(Some(now - jiff::SignedDuration::from_hours(1)), now);
        assert_eq!(
            lapses - now.as_second(),
            7 * 86_400,
            "a past expiry is not believed"
        );
    }

    #[test]
    fn pagoefectivo_notifications_name_their_code_and_event() {
        let s = Settles::pagoefectivo();
        let headers = http::HeaderMap::new();
        let read = |body: &str| {
            let n = Notification::new(&headers, None, body.as_bytes());
            s.read(Some("application/json"), &n)
        };
        assert_eq!(
            read(r#"{"eventType":"cip.paid","data":{"cip":"2364051"}}"#),
            Settlement::Code("2364051".into(), CodeEvent::Paid)
        );
        assert_eq!(
            read(r#"{"eventType":"cip.expired","data":{"cip":2364051}}"#),
            Settlement::Code("2364051".into(), CodeEvent::Expired)
        );
        assert_eq!(
            read(r#"{"eventType":"cip.created","data":{"cip":"1"}}"#),
            Settlement::Other
        );
        assert_eq!(read(r#"{"eventType":"cip.paid"}"#), Settlement::Other);
        assert_eq!(read("not json"), Settlement::Other);
        // Only a body its sender calls JSON is read for a settlement.
        let paid = br#"{"eventType":"cip.paid","data":{"cip":"2364051"}}"#;
        let n = Notification::new(&headers, None, paid);
        assert_eq!(s.read(Some("text/plain"), &n), Settlement::Other);
        assert_eq!(
            s.read(Some("Application/JSON; charset=utf-8"), &n),
            Settlement::Code("2364051".into(), CodeEvent::Paid)
        );
    }

    #[test]
    fn expiry_texts_with_and_without_an_offset() {
        let t = |s| parse_expiry(s, &lima()).map(|t| t.to_string());
        let at = Some("2026-12-10T23:00:00Z".to_string());
        assert_eq!(t("2026-12-10 18:00:00-05:00"), at);
        assert_eq!(t("2026-12-10T18:00:00-05:00"), at);
        assert_eq!(t("2026-12-10 18:00:00"), at, "local time in Lima");
        assert_eq!(t("next tuesday"), None);
    }
}
