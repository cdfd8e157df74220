//! Identity facts: who a payment request says is paying, read with the route's selectors
//! and normalised.
//!
//! The key facts (document, email, phone, account, device) are what limits, bindings and
//! block lists are keyed on; the amount (exact, in its currency's minor units) and the
//! billing country are read for the risk rules and the log.
//! A fact that is present but malformed is recorded as a [`FactProblem`]; what a problem
//! does (reject, review, ignore) is the route's choice, made in the decision core.

use crate::core::identity::document::{self, Document, DocumentError, DocumentKind};
use crate::core::money::{Amount, Currency};
use crate::core::net::geo::CountryCode;
use crate::core::request::body::{BodyError, BodyKind, ParsedBody};
use crate::core::request::selector::{ScalarKind, Selector};

/// The facts limits and lists can be keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Dni,
    Email,
    Phone,
    Account,
    Device,
    /// The client address (IPv6 per /64): known on every request, no selector needed.
    Ip,
}

impl KeyKind {
    pub const ALL: [KeyKind; 6] = [
        KeyKind::Dni,
        KeyKind::Email,
        KeyKind::Phone,
        KeyKind::Account,
        KeyKind::Device,
        KeyKind::Ip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Dni => "dni",
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::Account => "account",
            KeyKind::Device => "device",
            KeyKind::Ip => "ip",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether values of this kind are personal data that must never be logged in clear.
    pub fn is_personal(self) -> bool {
        matches!(self, KeyKind::Dni | KeyKind::Email | KeyKind::Phone)
    }
}

/// Where each fact is read from, and how it is normalised.
#[derive(Debug, Clone, Default)]
pub struct FactSelectors {
    pub dni: Option<Selector>,
    pub dni_type: Option<Selector>,
    pub email: Option<Selector>,
    pub phone: Option<Selector>,
    pub account: Option<Selector>,
    pub device: Option<Selector>,
    pub amount: Option<Selector>,
    pub currency: Option<Selector>,
    /// The currency of an amount sent without one.
    pub default_currency: Option<Currency>,
    /// The country the buyer says they bill from (ISO 3166 alpha-2).
    pub billing_country: Option<Selector>,
    /// The shop's reference of the order: not an identity, kept with a review.
    pub order: Option<Selector>,
    /// When the payment code a creation request asks for lapses (`payment_codes.expires`).
    pub code_expiry: Option<Selector>,
    /// Fold Gmail dots and `+tags` before counting and matching emails.
    pub fold_gmail: bool,
    /// Let a query parameter be named like a body field a selector reads (refused by
    /// default: see [`extract`]).
    pub query_may_name_body_fields: bool,
}

impl FactSelectors {
    fn all(&self) -> impl Iterator<Item = &Selector> {
        [
            &self.dni,
            &self.dni_type,
            &self.email,
            &self.phone,
            &self.account,
            &self.device,
            &self.amount,
            &self.currency,
            &self.billing_country,
            &self.order,
            &self.code_expiry,
        ]
        .into_iter()
        .flatten()
    }

    /// The body kind the selectors read; an error if they mix JSON and form fields.
    pub fn body_kind(&self) -> Result<Option<BodyKind>, &'static str> {
        let mut kinds = self.all().filter_map(Selector::body_kind);
        let first = kinds.next();
        match first {
            Some(k) if kinds.any(|other| other != k) => {
                Err("selectors of one body kind: all json: or all form:")
            }
            other => Ok(other),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }
}

/// A fact that was sent but could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactProblem {
    MissingDocument,
    InvalidDocument(DocumentError),
    InvalidEmail,
    InvalidPhone,
    InvalidAmount,
    InvalidCurrency,
    /// An amount with no currency, and none configured to assume.
    MissingCurrency,
    InvalidCountry,
    /// An account or device id that is empty or absurdly long.
    InvalidKey(KeyKind),
}

impl FactProblem {
    /// The problem a code names, as a decision log recorded it (a document's problem
    /// comes back as a bad format: the rules treat every invalid document alike).
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "missing_document" => FactProblem::MissingDocument,
            "invalid_document" => FactProblem::InvalidDocument(DocumentError::BadFormat),
            "invalid_email" => FactProblem::InvalidEmail,
            "invalid_phone" => FactProblem::InvalidPhone,
            "invalid_amount" => FactProblem::InvalidAmount,
            "invalid_currency" => FactProblem::InvalidCurrency,
            "missing_currency" => FactProblem::MissingCurrency,
            "invalid_country" => FactProblem::InvalidCountry,
            "invalid_account" => FactProblem::InvalidKey(KeyKind::Account),
            "invalid_device" => FactProblem::InvalidKey(KeyKind::Device),
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            FactProblem::MissingDocument => "missing_document",
            FactProblem::InvalidDocument(_) => "invalid_document",
            FactProblem::InvalidEmail => "invalid_email",
            FactProblem::InvalidPhone => "invalid_phone",
            FactProblem::InvalidAmount => "invalid_amount",
            FactProblem::InvalidCurrency => "invalid_currency",
            FactProblem::MissingCurrency => "missing_currency",
            FactProblem::InvalidCountry => "invalid_country",
            FactProblem::InvalidKey(KeyKind::Account) => "invalid_account",
            FactProblem::InvalidKey(_) => "invalid_device",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityFacts {
    pub document: Option<Document>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub account: Option<String>,
    pub device: Option<String>,
    /// The client address as keys use it: IPv4 as it is, IPv6 as its /64.
    pub ip: Option<String>,
    pub amount: Option<Amount>,
    pub billing_country: Option<CountryCode>,
    /// The order's reference, as sent (printable, at most [`MAX_ID_LEN`] bytes; else left
    /// out: it informs a reviewer, it decides nothing).
    pub order: Option<String>,
    /// When the payment code asked for lapses, as sent (read when the code is kept).
    pub code_expiry: Option<String>,
    pub problems: Vec<FactProblem>,
}

impl IdentityFacts {
    /// The canonical value of a key fact, as counted and hashed.
    pub fn key(&self, kind: KeyKind) -> Option<String> {
        match kind {
            KeyKind::Dni => self.document.as_ref().map(Document::key),
            KeyKind::Email => self.email.clone(),
            KeyKind::Phone => self.phone.clone(),
            KeyKind::Account => self.account.clone(),
            KeyKind::Device => self.device.clone(),
            KeyKind::Ip => self.ip.clone(),
        }
    }

    /// Record the client address as the `ip` fact.
    pub fn set_client(&mut self, addr: std::net::IpAddr) {
        self.ip = Some(ip_key(addr));
    }
}

/// The canonical text of a client address as a key: IPv4 (or IPv4-mapped IPv6) as it is,
/// IPv6 reduced to its /64, since one host usually owns a whole /64.
pub fn ip_key(addr: std::net::IpAddr) -> String {
    match addr.to_canonical() {
        v4 @ std::net::IpAddr::V4(_) => {
            let mut text = String::with_capacity(15);
            crate::core::net::ip_text::push_ip_str(&mut text, v4);
            text
        }
        std::net::IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

const MAX_ID_LEN: usize = 128;

/// Refuse a query parameter named like a body field a selector reads (ASCII case
/// folded): a backend that merges the two (Rails `params`, PHP `$_REQUEST`) may read it
/// instead of the body field garita judged. Rails also reads `a[b]` as the field `b`
/// inside `a`, so bracketed names are compared by their last part.
fn refuse_body_fields_in_query(selectors: &FactSelectors, query: &str) -> Result<(), BodyError> {
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        let last = name
            .rsplit('[')
            .next()
            .unwrap_or(&name)
            .trim_end_matches(']');
        let named = selectors
            .all()
            .filter_map(Selector::body_field_name)
            .any(|field| field.eq_ignore_ascii_case(last) || field.eq_ignore_ascii_case(&name));
        if named {
            return Err(BodyError::AmbiguousParameter(name.into_owned()));
        }
    }
    Ok(())
}

/// Read and normalise the facts of one request.
pub fn extract(
    selectors: &FactSelectors,
    body: &ParsedBody,
    headers: &http::HeaderMap,
    query: Option<&str>,
) -> Result<IdentityFacts, BodyError> {
    let read_scalar = |s: &Option<Selector>| -> Result<Option<(String, ScalarKind)>, BodyError> {
        match s {
            Some(s) => Ok(s
                .select_scalar(body, headers, query)?
                .filter(|(v, _)| !v.trim().is_empty())),
            None => Ok(None),
        }
    };
    let read = |s: &Option<Selector>| -> Result<Option<String>, BodyError> {
        Ok(read_scalar(s)?.map(|(text, _)| text))
    };
    let mut facts = IdentityFacts::default();
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if !selectors.query_may_name_body_fields {
            refuse_body_fields_in_query(selectors, query)?;
        }
    }

    if selectors.dni.is_some() {
        match (read_scalar(&selectors.dni)?, read(&selectors.dni_type)?) {
            (None, _) => facts.problems.push(FactProblem::MissingDocument),
            (Some((number, scalar)), kind_text) => {
                let kind = match kind_text {
                    None => Ok(DocumentKind::Dni),
                    Some(t) => DocumentKind::parse(&t).ok_or(DocumentError::UnknownType),
                };
                // A JSON number is a document only as a whole number of its own digits:
                // `11223344.0` is 11223344, never the 112233440 its dot dropped would be.
                let number = match scalar {
                    ScalarKind::Text => Ok(number),
                    ScalarKind::WholeNumber if !number.starts_with('-') => Ok(number),
                    _ => Err(DocumentError::BadFormat),
                };
                match kind.and_then(|k| number.and_then(|n| document::document(k, &n))) {
                    Ok(doc) => facts.document = Some(doc),
                    Err(e) => facts.problems.push(FactProblem::InvalidDocument(e)),
                }
            }
        }
    }
    if let Some(text) = read(&selectors.email)? {
        match document::email(&text, selectors.fold_gmail) {
            Some(e) => facts.email = Some(e),
            None => facts.problems.push(FactProblem::InvalidEmail),
        }
    }
    if let Some((text, scalar)) = read_scalar(&selectors.phone)? {
        let phone = match scalar {
            ScalarKind::Text => document::phone(&text),
            ScalarKind::WholeNumber if !text.starts_with('-') => document::phone(&text),
            _ => None,
        };
        match phone {
            Some(p) => facts.phone = Some(p),
            None => facts.problems.push(FactProblem::InvalidPhone),
        }
    }
    for (selector, slot, kind) in [
        (&selectors.account, &mut facts.account, KeyKind::Account),
        (&selectors.device, &mut facts.device, KeyKind::Device),
    ] {
        if let Some((text, scalar)) = read_scalar(selector)? {
            let trimmed = text.trim();
            if trimmed.len() > MAX_ID_LEN
                || trimmed.chars().any(char::is_control)
                || matches!(scalar, ScalarKind::Fraction)
            {
                facts.problems.push(FactProblem::InvalidKey(kind));
            } else {
                *slot = Some(trimmed.to_string());
            }
        }
    }
    // The currency first: it says how many decimals the amount may have.
    let currency = match read(&selectors.currency)? {
        Some(text) => Currency::parse(&text).ok_or(FactProblem::InvalidCurrency),
        None => selectors
            .default_currency
            .ok_or(FactProblem::MissingCurrency),
    };
    if let Err(FactProblem::InvalidCurrency) = currency {
        facts.problems.push(FactProblem::InvalidCurrency);
    }
    if let Some(text) = read(&selectors.amount)? {
        match currency {
            Ok(currency) => match currency.amount(&text) {
                Some(amount) => facts.amount = Some(amount),
                None => facts.problems.push(FactProblem::InvalidAmount),
            },
            Err(FactProblem::MissingCurrency) => facts.problems.push(FactProblem::MissingCurrency),
            // Recorded above.
            Err(_) => {}
        }
    }
    if let Some(text) = read(&selectors.billing_country)? {
        match CountryCode::parse_config(text.trim()) {
            Some(code) => facts.billing_country = Some(code),
            None => facts.problems.push(FactProblem::InvalidCountry),
        }
    }
    facts.order = read(&selectors.order)?
        .map(|t| t.trim().to_string())
        .filter(|t| t.len() <= MAX_ID_LEN && !t.chars().any(char::is_control));
    facts.code_expiry = read(&selectors.code_expiry)?.filter(|t| t.len() <= MAX_ID_LEN);
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::request::body::{parse, BodyKind};

    fn pagoefectivo() -> FactSelectors {
        let s = |t: &str| Some(Selector::parse(t).unwrap());
        FactSelectors {
            dni: s("json:/userDocumentNumber"),
            dni_type: s("json:/userDocumentType"),
            email: s("json:/userEmail"),
            phone: s("json:/userPhone"),
            account: s("json:/userId"),
            device: s("header:X-Device-Id"),
            amount: s("json:/amount"),
            currency: s("json:/currency"),
            default_currency: None,
            billing_country: s("json:/billingCountry"),
            order: s("json:/transactionCode"),
            code_expiry: None,
            fold_gmail: true,
            query_may_name_body_fields: false,
        }
    }

    fn facts(json: &str) -> IdentityFacts {
        let body = parse(Some("application/json"), json.as_bytes(), BodyKind::Json).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-device-id", " dev-9 ".parse().unwrap());
        extract(&pagoefectivo(), &body, &headers, None).unwrap()
    }

    #[test]
    fn the_order_reference_is_kept_as_sent_and_never_a_problem() {
        let read = |json: &str| {
            let body = parse(Some("application/json"), json.as_bytes(), BodyKind::Json).unwrap();
            extract(&pagoefectivo(), &body, &http::HeaderMap::new(), None).unwrap()
        };
        let f = read(r#"{"userDocumentNumber":"45678912","transactionCode":" T-1001 "}"#);
        assert_eq!(f.order.as_deref(), Some("T-1001"));
        let long = format!(
            r#"{{"userDocumentNumber":"45678912","transactionCode":"{}"}}"#,
            "x".repeat(200)
        );
        let f = read(&long);
        assert_eq!((f.order, f.problems.len()), (None, 0));
    }

    #[test]
    fn a_pagoefectivo_cip_request_yields_its_facts() {
        let f = facts(
            r#"{"currency":"pen","amount":"120.5","userDocumentType":"DNI","userDocumentNumber":"4567 8912",
               "userEmail":" Ana.Perez+x@GMAIL.com","userPhone":"987 654 321","userId":"cust-77","billingCountry":"pe"}"#,
        );
        assert_eq!(f.key(KeyKind::Dni).as_deref(), Some("45678912"));
        assert_eq!(f.email.as_deref(), Some("anaperez@gmail.com"));
        assert_eq!(f.phone.as_deref(), Some("+51987654321"));
        assert_eq!(f.account.as_deref(), Some("cust-77"));
        assert_eq!(f.device.as_deref(), Some("dev-9"));
        assert_eq!(
            f.amount.map(|a| (a.minor, a.currency)),
            Some((12050, Currency::PEN))
        );
        assert_eq!(
            f.billing_country.map(|c| c.as_str().to_string()).as_deref(),
            Some("PE")
        );
        assert!(f.problems.is_empty());
    }

    #[test]
    fn problems_are_recorded_not_guessed() {
        let f = facts(
            r#"{"userDocumentType":"DNI","userDocumentNumber":"123","userEmail":"nope","amount":"-1","currency":"PEN"}"#,
        );
        assert_eq!(
            f.problems,
            vec![
                FactProblem::InvalidDocument(DocumentError::BadFormat),
                FactProblem::InvalidEmail,
                FactProblem::InvalidAmount
            ]
        );
        let f = facts(r#"{"amount":1,"currency":"PEN"}"#);
        assert_eq!(f.problems, vec![FactProblem::MissingDocument]);
        let f = facts(r#"{"userDocumentType":"XX","userDocumentNumber":"45678912"}"#);
        assert_eq!(
            f.problems,
            vec![FactProblem::InvalidDocument(DocumentError::UnknownType)]
        );
    }

    #[test]
    fn client_addresses_as_keys() {
        let key = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
    }

    #[test]
    fn amounts_are_read_in_their_currency() {
        let f = facts(r#"{"userDocumentNumber":"45678912","amount":120.5,"currency":"USD"}"#);
        assert_eq!(f.amount.map(|a| a.to_string()).as_deref(), Some("120.50"));
        // Three decimals are too many for soles; no currency and none assumed is a problem.
        let f = facts(r#"{"userDocumentNumber":"45678912","amount":"1.005","currency":"PEN"}"#);
        assert_eq!(f.problems, vec![FactProblem::InvalidAmount]);
        let f = facts(r#"{"userDocumentNumber":"45678912","amount":"10"}"#);
        assert_eq!(f.problems, vec![FactProblem::MissingCurrency]);
        let f = facts(r#"{"userDocumentNumber":"45678912","amount":"10","currency":"S/"}"#);
        assert_eq!(f.problems, vec![FactProblem::InvalidCurrency]);
        let f = facts(r#"{"userDocumentNumber":"45678912","billingCountry":"Peru"}"#);
        assert_eq!(f.problems, vec![FactProblem::InvalidCountry]);
        let mut assumed = pagoefectivo();
        assumed.default_currency = Some(Currency::PEN);
        let body = parse(
            Some("application/json"),
            br#"{"userDocumentNumber":"45678912","amount":"10"}"#,
            BodyKind::Json,
        )
        .unwrap();
        let f = extract(&assumed, &body, &http::HeaderMap::new(), None).unwrap();
        assert_eq!(
            f.amount.map(|a| (a.minor, a.currency)),
            Some((1000, Currency::PEN))
        );
    }

    #[test]
    fn mixed_body_kinds_are_refused() {
        let mut s = pagoefectivo();
        assert_eq!(s.body_kind(), Ok(Some(BodyKind::Json)));
        s.email = Some(Selector::parse("form:email").unwrap());
        assert!(s.body_kind().is_err());
        assert_eq!(FactSelectors::default().body_kind(), Ok(None));
    }
}
