//! A webhook route's compiled settings, and how it names an event for replay protection.

use super::{Notification, Profile, Verified};
use crate::body::{self, BodyKind, ParsedBody, Selector};
use crate::ip_list::IpList;
use std::time::Duration;

/// What to do with a notification that was delivered before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Answer 200 without forwarding, so the provider stops retrying.
    Ack,
    /// Forward it marked `X-Garita-Duplicate: true`; the backend decides.
    Forward,
}

#[derive(Debug)]
pub struct WebhookRule {
    pub profile: Profile,
    /// MAC keys of every active secret.
    pub keys: Vec<Vec<u8>>,
    /// Seconds a signed timestamp may be off, either way.
    pub tolerance: i64,
    pub replay_window: Duration,
    /// Alternatives, tried in order when the scheme has no event id: the first whose
    /// selectors all find a value names the event.
    pub replay_key: Vec<Vec<Selector>>,
    pub on_duplicate: OnDuplicate,
    /// Networks the provider sends from; `None` accepts any.
    pub sources: Option<IpList>,
    pub max_body: usize,
    pub body_timeout: Duration,
}

impl WebhookRule {
    /// The replay alternatives a profile uses when the config names none.
    pub fn default_replay_key(profile: &Profile) -> Vec<Vec<Selector>> {
        let s = |t: &str| Selector::parse(t).expect("built-in selector");
        match profile {
            Profile::PagoEfectivo => vec![
                vec![s("json:/operationNumber")],
                vec![s("json:/data/cip"), s("json:/eventType")],
            ],
            _ => Vec::new(),
        }
    }

    /// Whether the scheme names its events itself.
    pub fn profile_has_event_id(profile: &Profile) -> bool {
        !matches!(profile, Profile::PagoEfectivo | Profile::Hmac(_))
    }

    /// The text that identifies this event, if any can be found. Configured selectors win
    /// over the scheme's event id.
    pub fn replay_key(&self, verified: &Verified, n: &Notification<'_>) -> Option<String> {
        if !self.replay_key.is_empty() {
            let parsed = body::parse(Some("application/json"), n.body, BodyKind::Json)
                .unwrap_or(ParsedBody::None);
            for alternative in &self.replay_key {
                let values: Option<Vec<String>> = alternative
                    .iter()
                    .map(|sel| sel.select(&parsed, n.headers, n.query).ok().flatten())
                    .collect();
                if let Some(values) = values {
                    return Some(values.join("\u{1f}"));
                }
            }
            return None;
        }
        verified.event_id.clone()
    }
}
