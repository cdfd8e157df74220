//! The decision log's line, encoded by hand: every request writes one, so the line costs
//! what copying its fields costs, not what serde's field-by-field machinery and `fmt`'s
//! address formatting do (together the largest part of garita's own work on a plain
//! request, under callgrind).
//!
//! The serde derive on [`DecisionRecord`] stays the line's definition: [`DecisionRecord::encode`]
//! writes the same bytes `serde_json` writes for it, field for field, escape for escape
//! (`\u00XX` in lower case, numbers by `itoa` and `zmij` as serde_json's own, a float that
//! is not finite as `null`), and a test holds the two together over awkward strings and
//! addresses. What it approximates: nothing; a field added to the record and not here
//! fails that test.

use super::decision_log::{DecisionRecord, LoggedFacts, LoggedRule};
use crate::core::net::ip_text::push_ip;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

impl DecisionRecord<'_> {
    /// The record as one JSON object (no newline), appended to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"ts\":");
        string(out, self.ts.as_str());
        out.extend_from_slice(b",\"request_id\":");
        string(out, self.request_id);
        out.extend_from_slice(b",\"key_id\":");
        string(out, self.key_id);
        out.extend_from_slice(b",\"method\":");
        optional_string(out, self.method);
        out.extend_from_slice(b",\"path\":");
        optional_string(out, self.path);
        out.extend_from_slice(b",\"route\":");
        string(out, self.route);
        out.extend_from_slice(b",\"client_ip\":");
        optional_ip(out, self.client_ip);
        out.extend_from_slice(b",\"peer_ip\":");
        optional_ip(out, self.peer_ip);
        out.extend_from_slice(b",\"country\":");
        optional_string(out, self.country);
        out.extend_from_slice(b",\"decision\":");
        string(out, self.decision);
        out.extend_from_slice(b",\"reasons\":[");
        for (i, reason) in self.reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, reason);
        }
        out.push(b']');
        if let Some(facts) = &self.facts {
            out.extend_from_slice(b",\"facts\":");
            facts.encode(out);
        }
        if let Some(score) = self.score {
            out.extend_from_slice(b",\"score\":");
            integer(out, score);
        }
        if !self.rules.is_empty() {
            out.extend_from_slice(b",\"rules\":[");
            for (i, rule) in self.rules.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                rule.encode(out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"status\":");
        integer(out, self.status);
        out.extend_from_slice(b",\"upstream_status\":");
        match self.upstream_status {
            Some(status) => integer(out, status),
            None => out.extend_from_slice(b"null"),
        }
        if let Some(event) = self.event {
            out.extend_from_slice(b",\"event\":");
            string(out, event);
        }
        if let Some(upstream) = self.upstream {
            out.extend_from_slice(b",\"upstream\":");
            socket_addr(out, upstream);
        }
        if let Some(error) = self.upstream_error {
            out.extend_from_slice(b",\"upstream_error\":");
            string(out, error);
        }
        if let Some(dropped) = self.dropped_headers {
            out.extend_from_slice(b",\"dropped_headers\":");
            string(out, dropped);
        }
        out.extend_from_slice(b",\"duration_ms\":");
        float(out, self.duration_ms);
        out.push(b'}');
    }
}

impl LoggedFacts<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        let mut field = |out: &mut Vec<u8>, name: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(name);
            out.extend_from_slice(b"\":");
        };
        let texts: [(&[u8], Option<&str>); 9] = [
            (b"document_type", self.document_type),
            (b"dni", self.dni),
            (b"email", self.email),
            (b"phone", self.phone),
            (b"account", self.account),
            (b"device", self.device),
            (b"amount", self.amount.as_deref()),
            (b"currency", self.currency),
            (b"billing_country", self.billing_country),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                field(out, name);
                string(out, value);
            }
        }
        if !self.problems.is_empty() {
            field(out, b"problems");
            out.push(b'[');
            for (i, problem) in self.problems.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, problem);
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

impl LoggedRule<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"rule\":");
        string(out, self.rule);
        out.extend_from_slice(b",\"weight\":");
        integer(out, self.weight);
        if self.shadow {
            out.extend_from_slice(b",\"shadow\":true");
        }
        out.push(b'}');
    }
}

/// A JSON string as serde_json escapes it: `"` and `\`, the control characters (the five
/// with short escapes by them, the rest as `\u00XX`); everything else as it is.
fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    // Nearly every string needs nothing: one pass without an early exit (which the
    // compiler turns into wide compares) says so, and the copy is whole.
    let needs_escape = bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0A => b'n',
            0x0C => b'f',
            0x0D => b'r',
            0x00..=0x1F => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xF)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn optional_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => string(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn optional_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        Some(ip) => {
            out.push(b'"');
            push_ip(out, ip);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    out.push(b'"');
    match addr {
        SocketAddr::V4(v4) => {
            push_ip(out, IpAddr::V4(*v4.ip()));
            out.push(b':');
            integer(out, v4.port());
        }
        SocketAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::decision_log::LogTime;
    use std::net::{Ipv6Addr, SocketAddrV6};

    fn bare<'a>() -> DecisionRecord<'a> {
        DecisionRecord {
            ts: LogTime::of(jiff::Timestamp::from_millisecond(1_764_100_000_123).unwrap()),
            request_id: "0193a1b2c3d4",
            key_id: "",
            method: None,
            path: None,
            route: "unparsed",
            client_ip: None,
            peer_ip: None,
            country: None,
            decision: "deny",
            reasons: Vec::new(),
            facts: None,
            score: None,
            rules: Vec::new(),
            status: 400,
            upstream_status: None,
            event: None,
            upstream: None,
            upstream_error: None,
            dropped_headers: None,
            duration_ms: 0.0,
        }
    }

    fn same_as_serde(record: &DecisionRecord<'_>) {
        let mut mine = Vec::new();
        record.encode(&mut mine);
        let serde = serde_json::to_vec(record).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&serde)
        );
    }

    #[test]
    fn a_line_with_nothing_optional_is_serde_jsons() {
        same_as_serde(&bare());
    }

    #[test]
    fn a_full_line_is_serde_jsons() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        let awkward = format!("/a\"b\\c{every_control}\u{7f}ñ中文🙂/end");
        let amount = Some("120.50".to_string());
        let mut record = bare();
        record.key_id = "a1b2c3d4";
        record.method = Some("POST");
        record.path = Some(&awkward);
        record.route = "cips \"quoted\"";
        record.client_ip = Some("192.0.2.10".parse().unwrap());
        record.peer_ip = Some("::ffff:10.0.0.1".parse().unwrap());
        record.country = Some("PE");
        record.decision = "review";
        record.reasons = vec!["quota_exceeded:dni".into(), awkward.clone()];
        record.facts = Some(LoggedFacts {
            document_type: Some("DNI"),
            dni: Some("0123456789abcdef0123456789abcdef"),
            email: None,
            phone: Some("fedcba9876543210fedcba9876543210"),
            account: None,
            device: Some("d\u{1}"),
            amount,
            currency: Some("PEN"),
            billing_country: None,
            problems: vec!["invalid_email", "invalid_phone"],
        });
        record.score = Some(70);
        record.rules = vec![
            LoggedRule {
                rule: "new_device",
                weight: 30,
                shadow: false,
            },
            LoggedRule {
                rule: "night",
                weight: 40,
                shadow: true,
            },
        ];
        record.status = 202;
        record.upstream_status = Some(201);
        record.event = Some("00ff00ff00ff00ff00ff00ff00ff00ff");
        record.upstream = Some("127.0.0.1:18080".parse().unwrap());
        record.upstream_error = Some("upstream_timeout");
        record.dropped_headers = Some("x_forwarded_for, x_request_id");
        record.duration_ms = 12.345;
        same_as_serde(&record);
    }

    #[test]
    fn addresses_and_durations_are_written_as_serde_writes_them() {
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let addresses: [(IpAddr, SocketAddr); 4] = [
            (
                "0.0.0.0".parse().unwrap(),
                "255.255.255.255:0".parse().unwrap(),
            ),
            (
                IpAddr::V6(v6),
                SocketAddr::V6(SocketAddrV6::new(v6, 443, 0, 0)),
            ),
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                SocketAddr::V6(SocketAddrV6::new(v6, 8080, 7, 3)),
            ),
            (
                "10.200.3.45".parse().unwrap(),
                "[::1]:65535".parse().unwrap(),
            ),
        ];
        for (ip, upstream) in addresses {
            for duration in [
                0.0,
                0.001,
                1.5,
                1e-7,
                123_456.789,
                1e21,
                f64::NAN,
                f64::INFINITY,
                -0.0,
            ] {
                let mut record = bare();
                record.client_ip = Some(ip);
                record.peer_ip = Some(ip);
                record.upstream = Some(upstream);
                record.duration_ms = duration;
                same_as_serde(&record);
            }
        }
    }

    #[test]
    fn every_character_class_is_escaped_as_serde_escapes_it() {
        // Strings of every byte below 0x80 and a few wider characters, in runs and alone.
        let mut text = String::new();
        for c in (0u8..0x80).map(char::from).chain(['é', '€', '𝄞']) {
            text.push(c);
            let mut record = bare();
            let single = c.to_string();
            record.request_id = &single;
            record.route = &text;
            same_as_serde(&record);
        }
    }
}
