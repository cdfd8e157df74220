//! Who is paying: identity documents, emails and phone numbers, validated and normalised.
//!
//! Every identifier is brought to one canonical spelling before it is counted, bound or
//! matched against a block list, so that `4567 8912`, `45.678.912` and `45678912` are one
//! DNI and `Ana@Example.PE ` and `ana@example.pe` one email. What is checked is the shape,
//! not existence: a well-formed DNI may still belong to nobody (RENIEC is not consulted),
//! and a RUC's check digit only catches typos.
//!
//! Documents: DNI is exactly 8 digits; RUC is 11 digits, prefix 10/15/17/20, with a mod-11
//! check digit; CE (carné de extranjería) and PAS (passport) are 6 to 12 letters or digits.
//!
//! The document type is a label the client chooses, so it is not part of the identity: a
//! document is keyed on its canonical number ([`Document::key`]), and `11223344` sent as
//! DNI, CE or PAS is one person for block lists, quotas and bindings. A number of digits only
//! loses its leading zeros and is padded back to eight, so `011223344` as CE is the DNI
//! `11223344` too, while a DNI keeps exactly its 8 digits. A RUC that starts with `10` is a
//! person's: `10` + DNI + check digit, keyed on the DNI it embeds; other RUCs (companies,
//! people without a DNI) are keyed on their 11 digits.
//! Phones become E.164; Peruvian numbers written without a country code are read as Peru's
//! (mobiles are 9 digits starting with 9).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Dni,
    Ce,
    Pas,
    Ruc,
}

impl DocumentKind {
    /// Read a document type as payment APIs send it (`DNI`, `CE`, `PAS`, `RUC`; any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DNI" | "1" => Some(DocumentKind::Dni),
            "CE" | "4" => Some(DocumentKind::Ce),
            "PAS" | "PASAPORTE" | "PASSPORT" | "7" => Some(DocumentKind::Pas),
            "RUC" | "6" => Some(DocumentKind::Ruc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Dni => "DNI",
            DocumentKind::Ce => "CE",
            DocumentKind::Pas => "PAS",
            DocumentKind::Ruc => "RUC",
        }
    }
}

/// A validated identity document in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Document {
    pub kind: DocumentKind,
    pub number: String,
}

impl Document {
    /// The canonical number that keys, lists and hashes use, whatever the type label:
    /// `45678912` for the DNI 45678912, for the same digits sent as CE or PAS, and for the
    /// RUC 10456789121.
    pub fn key(&self) -> String {
        if self.kind == DocumentKind::Ruc && self.number.starts_with("10") {
            return self.number[2..10].to_string();
        }
        if self.number.bytes().all(|b| b.is_ascii_digit()) {
            let significant = self.number.trim_start_matches('0');
            return format!("{significant:0>8}");
        }
        self.number.clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentError {
    UnknownType,
    BadFormat,
    BadCheckDigit,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DocumentError::UnknownType => "unknown document type",
            DocumentError::BadFormat => "document number of the wrong shape",
            DocumentError::BadCheckDigit => "RUC check digit does not match",
        })
    }
}

/// Validate and normalise a document. Separators people type (spaces, dots, hyphens) are
/// dropped and letters upper-cased before the shape is checked.
pub fn document(kind: DocumentKind, number: &str) -> Result<Document, DocumentError> {
    let clean: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let digits = |n: usize| clean.len() == n && clean.bytes().all(|b| b.is_ascii_digit());
    let ok = match kind {
        DocumentKind::Dni => digits(8),
        DocumentKind::Ruc => {
            if !digits(11)
                || !["10", "15", "17", "20"]
                    .iter()
                    .any(|p| clean.starts_with(p))
            {
                return Err(DocumentError::BadFormat);
            }
            if !ruc_check_digit_ok(&clean) {
                return Err(DocumentError::BadCheckDigit);
            }
            true
        }
        DocumentKind::Ce | DocumentKind::Pas => {
            (6..=12).contains(&clean.len()) && clean.bytes().all(|b| b.is_ascii_alphanumeric())
        }
    };
    if ok {
        Ok(Document {
            kind,
            number: clean,
        })
    } else {
        Err(DocumentError::BadFormat)
    }
}

/// SUNAT's mod-11 check: weights 5,4,3,2,7,6,5,4,3,2 over the first ten digits.
fn ruc_check_digit_ok(ruc: &str) -> bool {
    const WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let d: Vec<u32> = ruc.bytes().map(|b| u32::from(b - b'0')).collect();
    let sum: u32 = d.iter().zip(WEIGHTS).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 1,
        n => n,
    };
    d[10] == check
}

/// Lower-case and trim an email and check its shape. With `fold_gmail`, Gmail addresses
/// also lose the dots and `+tag` of their local part (Gmail delivers all of them to one
/// mailbox), and googlemail.com becomes gmail.com.
///
/// Spellings that mail systems deliver to the same mailbox are brought to one: a
/// `mailto:` prefix is dropped, comments (`fraud.ster(x)@gmail.com`) are removed and a
/// quoted local part that needs no quotes (`"fraud.ster"@gmail.com`) is unquoted. What
/// is left must be a dot-atom (RFC 5322 `atext` and single dots) at a domain of letters,
/// digits and hyphens; anything else (quoted strings that need their quotes, backslashes,
/// address literals) is refused rather than guessed at.
pub fn email(text: &str, fold_gmail: bool) -> Option<String> {
    let mut lower = text.trim().to_lowercase();
    if let Some(rest) = lower.strip_prefix("mailto:") {
        lower = rest.to_string();
    }
    if lower.len() > 254 || lower.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    if lower.contains(['(', ')']) {
        lower = without_comments(&lower)?;
    }
    let (local, domain) = lower.rsplit_once('@')?;
    let local = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(quoted) => quoted,
        None => local,
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c))
        });
    if !local_ok || !domain_ok {
        return None;
    }
    if fold_gmail && (domain == "gmail.com" || domain == "googlemail.com") {
        let base = local.split('+').next().unwrap_or("").replace('.', "");
        if base.is_empty() {
            return None;
        }
        return Some([&base, "@gmail.com"].concat());
    }
    // `concat` sizes the string once; `format!` would run the formatting machinery on
    // every payment request.
    Some([local, "@", domain].concat())
}

/// `text` without its `(comments)`; `None` if they nest or do not close.
fn without_comments(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut open = false;
    for c in text.chars() {
        match (c, open) {
            ('(', false) => open = true,
            (')', true) => open = false,
            ('(' | ')', _) => return None,
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    (!open).then_some(out)
}

/// A phone number in E.164 (`+51987654321`). Numbers without a country code are read as
/// Peruvian: 9 digits starting with 9 are mobiles; a leading trunk `0` is dropped.
pub fn phone(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let international = trimmed.starts_with('+');
    let mut digits: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '+'))
        .collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
        return None;
    }
    if !international {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_string();
        } else if digits.len() == 11 && digits.starts_with("519") {
            // 51 + a mobile, written without the plus.
        } else {
            let national = digits.strip_prefix('0').unwrap_or(&digits);
            digits = ["51", national].concat();
        }
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    if let Some(national) = digits.strip_prefix("51") {
        let mobile = national.len() == 9 && national.starts_with('9');
        let landline = national.len() == 8 && !national.starts_with(['0', '9']);
        if !mobile && !landline {
            return None;
        }
    }
    Some(["+", &digits].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dni(n: &str) -> Result<String, DocumentError> {
        document(DocumentKind::Dni, n).map(|d| d.number)
    }

    #[test]
    fn dni_is_eight_digits_whatever_the_spelling() {
        for spelling in ["45678912", " 4567 8912 ", "45.678.912", "4567-8912"] {
            assert_eq!(dni(spelling).as_deref(), Ok("45678912"), "{spelling}");
        }
        for bad in ["4567891", "456789123", "4567891A", "", "45678912-3"] {
            assert_eq!(dni(bad), Err(DocumentError::BadFormat), "{bad}");
        }
    }

    #[test]
    fn ruc_needs_its_prefix_and_check_digit() {
        // SUNAT's own RUC and a company's, both published.
        assert!(document(DocumentKind::Ruc, "20131312955").is_ok());
        assert!(document(DocumentKind::Ruc, "20100070970").is_ok());
        assert_eq!(
            document(DocumentKind::Ruc, "20131312954"),
            Err(DocumentError::BadCheckDigit)
        );
        assert_eq!(
            document(DocumentKind::Ruc, "30131312955"),
            Err(DocumentError::BadFormat)
        );
        assert_eq!(
            document(DocumentKind::Ruc, "2013131295"),
            Err(DocumentError::BadFormat)
        );
    }

    #[test]
    fn ce_and_passport_are_alphanumeric() {
        assert_eq!(
            document(DocumentKind::Pas, "ab 123456").unwrap().number,
            "AB123456"
        );
        assert!(document(DocumentKind::Ce, "001234567").is_ok());
        assert!(document(DocumentKind::Ce, "12345").is_err());
        assert!(document(DocumentKind::Pas, "AB12345#").is_err());
    }

    #[test]
    fn a_number_is_one_key_whatever_its_label() {
        let key = |kind, n: &str| document(kind, n).unwrap().key();
        for kind in [DocumentKind::Dni, DocumentKind::Ce, DocumentKind::Pas] {
            assert_eq!(key(kind, "11223344"), "11223344", "{kind:?}");
        }
        assert_eq!(key(DocumentKind::Ce, "011223344"), "11223344");
        assert_eq!(key(DocumentKind::Pas, "0011223344"), "11223344");
        assert_eq!(key(DocumentKind::Dni, "01234567"), "01234567");
        assert_eq!(key(DocumentKind::Ce, "001234567"), "01234567");
        assert_eq!(key(DocumentKind::Ce, "1234567"), "01234567");
        assert_eq!(key(DocumentKind::Pas, "ab123456"), "AB123456");
        assert_eq!(key(DocumentKind::Ce, "123456789012"), "123456789012");
    }

    #[test]
    fn a_persons_ruc_is_keyed_on_the_dni_it_embeds() {
        // 10 + 11223344 + check digit 5 (weights 5,4,3,2,7,6,5,4,3,2: sum 83, 11 - 83 % 11 = 5).
        assert_eq!(
            document(DocumentKind::Ruc, "10112233445").unwrap().key(),
            "11223344"
        );
        assert_eq!(
            document(DocumentKind::Ruc, "20131312955").unwrap().key(),
            "20131312955"
        );
    }

    #[test]
    fn document_types_as_apis_send_them() {
        assert_eq!(DocumentKind::parse("dni"), Some(DocumentKind::Dni));
        assert_eq!(DocumentKind::parse(" PAS "), Some(DocumentKind::Pas));
        assert_eq!(DocumentKind::parse("LE"), None);
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            email(" Ana@Example.PE ", false).as_deref(),
            Some("ana@example.pe")
        );
        assert_eq!(
            email("A.N.A+promo@GoogleMail.com", true).as_deref(),
            Some("ana@gmail.com")
        );
        assert_eq!(
            email("a.n.a+promo@gmail.com", false).as_deref(),
            Some("a.n.a+promo@gmail.com")
        );
        assert_eq!(
            email("a.n.a+x@example.pe", true).as_deref(),
            Some("a.n.a+x@example.pe")
        );
        for bad in [
            "ana",
            "ana@",
            "@example.pe",
            "ana@example",
            "a na@example.pe",
            "a@b@c.pe",
            "a@.pe",
        ] {
            assert_eq!(email(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn spellings_of_one_mailbox_are_one_email() {
        for spelling in [
            "fraud.ster@gmail.com",
            "mailto:fraud.ster@gmail.com",
            "MAILTO:Fraud.Ster@Gmail.com",
            "\"fraud.ster\"@gmail.com",
            "fraud.ster(x)@gmail.com",
            "(note)fraud.ster@gmail.com",
            "fraud.ster@(comment)gmail.com",
        ] {
            assert_eq!(
                email(spelling, false).as_deref(),
                Some("fraud.ster@gmail.com"),
                "{spelling}"
            );
        }
        for refused in [
            "\"fraud ster\"@gmail.com",
            "\"fraud\\\"ster\"@gmail.com",
            "\"fraud@ster\"@gmail.com",
            "fraud..ster@gmail.com",
            ".fraud@gmail.com",
            "fraud(a(b))@gmail.com",
            "fraud(x@gmail.com",
            "fraud@[192.0.2.1]",
            "fraud@gmail.com?subject=x",
            "fraud@-gmail.com",
        ] {
            assert_eq!(email(refused, false), None, "{refused}");
        }
    }

    #[test]
    fn phones_become_e164() {
        for spelling in [
            "987654321",
            "987 654 321",
            "+51 987 654 321",
            "51987654321",
            "0051987654321",
            "+51-987-654-321",
        ] {
            assert_eq!(
                phone(spelling).as_deref(),
                Some("+51987654321"),
                "{spelling}"
            );
        }
        assert_eq!(phone("(01) 411-1111").as_deref(), Some("+5114111111"));
        assert_eq!(phone("+1 415 555 0100").as_deref(), Some("+14155550100"));
        for bad in ["98765432", "+51 887654321", "abc", "", "+51", "12"] {
            assert_eq!(phone(bad), None, "{bad}");
        }
    }
}
