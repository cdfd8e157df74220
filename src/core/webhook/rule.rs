//! A webhook route's compiled settings, and how it names an event for replay protection.

use super::{Notification, Profile, Verified};
use crate::core::net::ip_list::IpList;
use crate::core::request::selector::Selector;
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
    /// Settle payment codes with the verified notifications.
    pub settles: Option<crate::core::rules::code_life::Settles>,
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
            let parsed = n.json();
            for alternative in &self.replay_key {
                let values: Option<Vec<String>> = alternative
                    .iter()
                    .map(|sel| sel.select(parsed, n.headers, n.query).ok().flatten())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(profile: Profile, replay_key: Vec<Vec<Selector>>) -> WebhookRule {
        WebhookRule {
            profile,
            keys: vec![b"k".to_vec()],
            tolerance: 300,
            replay_window: Duration::from_secs(60),
            replay_key,
            on_duplicate: OnDuplicate::Ack,
            sources: None,
            max_body: 1024,
            body_timeout: Duration::from_secs(1),
            settles: None,
        }
    }

    fn key(rule: &WebhookRule, body: &str, event_id: Option<&str>) -> Option<String> {
        let headers = http::HeaderMap::new();
        let n = Notification::new(&headers, None, body.as_bytes());
        let verified = Verified {
            event_id: event_id.map(str::to_string),
            timestamp: None,
        };
        rule.replay_key(&verified, &n)
    }

    #[test]
    fn pagoefectivo_events_are_named_by_operation_or_cip_and_event() {
        let r = rule(
            Profile::PagoEfectivo,
            WebhookRule::default_replay_key(&Profile::PagoEfectivo),
        );
        assert_eq!(
            key(
                &r,
                r#"{"operationNumber":"77","eventType":"cip.paid","data":{"cip":"1"}}"#,
                None
            )
            .as_deref(),
            Some("77")
        );
        let paid = key(&r, r#"{"eventType":"cip.paid","data":{"cip":"1"}}"#, None);
        let expired = key(
            &r,
            r#"{"eventType":"cip.expired","data":{"cip":"1"}}"#,
            None,
        );
        assert!(paid.is_some() && expired.is_some() && paid != expired);
        assert_eq!(key(&r, r#"{"eventType":"cip.paid"}"#, None), None);
        // A body that repeats the key cannot name the event (the backend might read the other).
        assert_eq!(
            key(&r, r#"{"operationNumber":"1","operationNumber":"2"}"#, None),
            None
        );
    }

    #[test]
    fn event_ids_and_configured_keys() {
        let stripe = rule(Profile::Stripe, Vec::new());
        assert_eq!(key(&stripe, "{}", Some("evt_1")).as_deref(), Some("evt_1"));
        let configured = rule(
            Profile::Stripe,
            vec![vec![Selector::parse("json:/data/object/id").unwrap()]],
        );
        assert_eq!(
            key(
                &configured,
                r#"{"data":{"object":{"id":"pi_9"}}}"#,
                Some("evt_1")
            )
            .as_deref(),
            Some("pi_9")
        );
        assert!(!WebhookRule::profile_has_event_id(&Profile::PagoEfectivo));
        assert!(WebhookRule::profile_has_event_id(
            &Profile::StandardWebhooks
        ));
    }
}
