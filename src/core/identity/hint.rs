//! Masked hints: enough of an identity for a reviewer to tell two customers apart
//! ("the DNI ending 912", "an email at example.pe"), never enough to read it whole.
//!
//! A policy names the facts it allows hints of (`review_hints`); a hint is made from the
//! canonical value when a request goes to review and is kept in the review record, the
//! only place it appears. Each shape keeps at most three characters of the value and
//! never more than three eighths of it (three of a DNI's eight digits), so a short value
//! shows less: a DNI keeps its last three digits (`•••••912`), a phone its last three
//! (`•••• ••321`), an email the first character of its local part and its domain
//! (`a•••@example.pe`: the domain is the customers' mail provider, rarely identifying),
//! an account or a device its last three characters.
//!
//! What it approximates: a hint narrows a customer down, it does not single one out;
//! three digits of a DNI and a mail domain together still leave many people.

use crate::core::request::facts::KeyKind;

const DOT: char = '•';

/// How many trailing characters of a value of `len` characters a hint may keep.
fn kept(len: usize) -> usize {
    (len * 3 / 8).min(3)
}

/// The last characters of `value` behind `dots` dots.
fn tail(value: &str, dots: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = kept(chars.len());
    let mut out = String::from(dots);
    out.extend(&chars[chars.len() - keep..]);
    out
}

/// The hint of `value`, a canonical `kind` fact; `None` for addresses (never hinted:
/// the queue has its own key for them).
pub fn hint(kind: KeyKind, value: &str) -> Option<String> {
    match kind {
        KeyKind::Dni => Some(tail(value, "•••••")),
        KeyKind::Phone => Some(tail(value, "•••• ••")),
        KeyKind::Email => {
            let (local, domain) = value.rsplit_once('@')?;
            let first = local.chars().next().filter(|_| local.chars().count() > 2);
            let mut out = String::new();
            out.extend(first);
            out.extend([DOT, DOT, DOT]);
            out.push('@');
            out.push_str(domain);
            Some(out)
        }
        KeyKind::Account | KeyKind::Device => Some(tail(value, "•••")),
        KeyKind::Ip => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_keep_a_little_and_never_the_whole() {
        assert_eq!(hint(KeyKind::Dni, "45678912").unwrap(), "•••••912");
        assert_eq!(hint(KeyKind::Phone, "987654321").unwrap(), "•••• ••321");
        assert_eq!(
            hint(KeyKind::Email, "ana.perez@example.pe").unwrap(),
            "a•••@example.pe"
        );
        assert_eq!(hint(KeyKind::Email, "ab@x.pe").unwrap(), "•••@x.pe");
        assert_eq!(hint(KeyKind::Account, "cust-10293").unwrap(), "•••293");
        // Short values keep three eighths or less.
        assert_eq!(hint(KeyKind::Device, "abcde").unwrap(), "•••e");
        assert_eq!(hint(KeyKind::Device, "ab").unwrap(), "•••");
        assert_eq!(hint(KeyKind::Ip, "192.0.2.1"), None);
        assert_eq!(hint(KeyKind::Email, "no-at-sign"), None);
    }
}
