//! Selectors: where a fact lives in a request, `json:/user/documentNumber` (an RFC 6901
//! JSON pointer), `form:dni`, `header:X-Device-Id` or `query:dni`, and how it is read.
//!
//! Read as strictly as the body is parsed: a key that a case-insensitive backend would
//! take for the selected one (a repeat under another case, or a lone variant) is refused,
//! and a JSON number stands for a document by its value, the way a lenient backend would
//! read it.

use crate::core::request::body::{BodyError, BodyKind, ParsedBody};
use crate::core::request::json::JsonValue;
use std::borrow::Cow;

/// An RFC 6901 JSON pointer, split into its unescaped tokens once, at load, so that
/// reading a fact allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

impl JsonPointer {
    fn new(text: &str) -> Self {
        let tokens = text
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Self {
            text: text.to_string(),
            tokens,
        }
    }

    /// What the pointer selects in `value`, refusing an object where another member's key
    /// equals the token under case folding (a repeat to a backend that folds, as Go's
    /// `encoding/json` does: the last of them wins there), or where only such a member
    /// exists.
    fn lookup<'v, 'a>(
        &self,
        value: &'v JsonValue<'a>,
    ) -> Result<Option<&'v JsonValue<'a>>, BodyError> {
        let mut at = value;
        for token in &self.tokens {
            let next = match at {
                JsonValue::Object(members) => folded_member(members, token)?,
                JsonValue::Array(items) => array_index(token).and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(v) => at = v,
                None => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// The last token: the field name a backend that merges parameters would read.
    pub fn field_name(&self) -> Option<&str> {
        self.tokens.last().map(String::as_str)
    }

    /// What the pointer points at in `value`, as `serde_json::Value::pointer` finds it.
    #[cfg(test)]
    fn find<'v, 'a>(&self, value: &'v JsonValue<'a>) -> Option<&'v JsonValue<'a>> {
        self.tokens.iter().try_fold(value, |at, token| match at {
            JsonValue::Object(_) => at.member(token),
            JsonValue::Array(items) => array_index(token).and_then(|i| items.get(i)),
            _ => None,
        })
    }
}

/// The member of `members` named `token`; an error if another member's key folds to it.
fn folded_member<'v, 'a>(
    members: &'v [(Cow<'a, str>, JsonValue<'a>)],
    token: &str,
) -> Result<Option<&'v JsonValue<'a>>, BodyError> {
    let mut exact = None;
    let mut variant = None;
    for (key, value) in members {
        if key == token {
            exact = Some(value);
        } else if folds_to(key, token) {
            if variant.is_some() {
                return Err(BodyError::DuplicateKey(token.to_string()));
            }
            variant = Some(key);
        }
    }
    match (exact, variant) {
        (Some(_), Some(_)) => Err(BodyError::DuplicateKey(token.to_string())),
        (None, Some(key)) => Err(BodyError::KeyCase(key.to_string())),
        (found, None) => Ok(found),
    }
}

/// Whether `key` equals `token` under case folding. Besides ASCII, two characters fold
/// to ASCII letters in Unicode's simple folding, which Go's `bytes.EqualFold` uses: the
/// Kelvin sign (to `k`) and the long s (to `s`).
fn folds_to(key: &str, token: &str) -> bool {
    if key.len() == token.len() && key.eq_ignore_ascii_case(token) {
        return true;
    }
    if key.is_ascii() {
        return false;
    }
    let fold = |c: char| match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c => c.to_ascii_lowercase(),
    };
    key.chars().map(fold).eq(token.chars().map(fold))
}

/// An array index token: digits, without a leading zero unless it is "0".
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if token.len() > 1 && token.starts_with('0') {
        return None;
    }
    token.parse().ok()
}

/// What kind of scalar a selector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// Text: a JSON string, a form field, a header or a query parameter.
    Text,
    /// A JSON number that is a whole number, given as that integer's digits
    /// (`11223344.0` and `1.1223344e7` are `11223344`).
    WholeNumber,
    /// Any other JSON number (`120.5`), as written in the shortest form that reads back.
    Fraction,
    /// `true` or `false`.
    Bool,
}

/// The largest whole number a double holds exactly (2^53): beyond it a JSON number has
/// already been rounded, by garita's reader and by any backend that reads doubles.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

/// The text of a JSON number and whether it is whole. Integers are read exactly; a number
/// with a fraction or an exponent is read as a double (as most backends read it), whole
/// when it has no fractional part and is within 2^53, so that `11223344.0` is the integer
/// `11223344` and never `112233440`.
fn number_text(n: &serde_json::Number) -> (String, ScalarKind) {
    if n.is_u64() || n.is_i64() {
        return (n.to_string(), ScalarKind::WholeNumber);
    }
    match n.as_f64() {
        Some(v) if v.fract() == 0.0 && v.abs() <= EXACT_WHOLE => {
            (format!("{v:.0}"), ScalarKind::WholeNumber)
        }
        _ => (n.to_string(), ScalarKind::Fraction),
    }
}

/// Where a fact is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    JsonPointer(JsonPointer),
    Form(String),
    Header(http::HeaderName),
    Query(String),
}

impl Selector {
    /// `json:/a/b`, `form:name`, `header:Name`, `query:name`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let (kind, rest) = text
            .split_once(':')
            .ok_or("kind:where, e.g. json:/userDocumentNumber")?;
        match kind {
            "json" if rest.is_empty() || rest.starts_with('/') => {
                Ok(Selector::JsonPointer(JsonPointer::new(rest)))
            }
            "json" => Err("a JSON pointer starting with '/', e.g. json:/userEmail"),
            "form" | "query" if rest.is_empty() => Err("a field name after form: or query:"),
            "form" => Ok(Selector::Form(rest.to_string())),
            "query" => Ok(Selector::Query(rest.to_string())),
            "header" => http::HeaderName::from_bytes(rest.as_bytes())
                .map(Selector::Header)
                .map_err(|_| "an HTTP header name after header:"),
            _ => Err("a selector starting with json:, form:, header: or query:"),
        }
    }

    /// The body kind this selector reads, if it reads the body.
    pub fn body_kind(&self) -> Option<BodyKind> {
        match self {
            Selector::JsonPointer(_) => Some(BodyKind::Json),
            Selector::Form(_) => Some(BodyKind::Form),
            Selector::Header(_) | Selector::Query(_) => None,
        }
    }

    /// The JSON pointer a `json:` selector reads (`/data/cip`), for building bodies.
    pub fn json_pointer(&self) -> Option<&str> {
        match self {
            Selector::JsonPointer(p) => Some(&p.text),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Selector::JsonPointer(p) => format!("json:{}", p.text),
            Selector::Form(f) => format!("form:{f}"),
            Selector::Header(h) => format!("header:{h}"),
            Selector::Query(q) => format!("query:{q}"),
        }
    }

    /// The selected value as text; `None` if absent (or JSON null). A field given twice
    /// is an error, as is an object or array where one value belongs.
    pub fn select(
        &self,
        body: &ParsedBody,
        headers: &http::HeaderMap,
        query: Option<&str>,
    ) -> Result<Option<String>, BodyError> {
        Ok(self
            .select_scalar(body, headers, query)?
            .map(|(text, _)| text))
    }

    /// [`Selector::select`], with what kind of scalar the value was: a fact that is an
    /// identifier must not be a fractional number, whose dot is no separator.
    pub fn select_scalar(
        &self,
        body: &ParsedBody,
        headers: &http::HeaderMap,
        query: Option<&str>,
    ) -> Result<Option<(String, ScalarKind)>, BodyError> {
        let single = |mut values: Vec<String>, name: &str| match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop().map(|v| (v, ScalarKind::Text))),
            _ => Err(BodyError::DuplicateKey(name.to_string())),
        };
        match self {
            Selector::JsonPointer(pointer) => match body {
                ParsedBody::Json(value) => match pointer.lookup(value)? {
                    None | Some(JsonValue::Null) => Ok(None),
                    Some(JsonValue::String(s)) => Ok(Some((s.to_string(), ScalarKind::Text))),
                    Some(JsonValue::Number(n)) => Ok(Some(number_text(n))),
                    Some(JsonValue::Bool(b)) => Ok(Some((b.to_string(), ScalarKind::Bool))),
                    Some(_) => Err(BodyError::NotScalar(self.describe())),
                },
                _ => Ok(None),
            },
            Selector::Form(name) => match body {
                ParsedBody::Form(fields) => single(
                    fields
                        .iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.to_string())
                        .collect(),
                    name,
                ),
                _ => Ok(None),
            },
            Selector::Header(name) => {
                let values: Vec<String> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| {
                        v.to_str()
                            .map(str::to_string)
                            .map_err(|_| BodyError::InvalidUtf8)
                    })
                    .collect::<Result<_, _>>()?;
                single(values, name.as_str())
            }
            Selector::Query(name) => {
                let values = form_urlencoded::parse(query.unwrap_or("").as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                single(values, name)
            }
        }
    }

    /// The name a backend that merges query and body parameters would know this body
    /// field by (a JSON pointer's last token, a form field); `None` for headers and query.
    pub fn body_field_name(&self) -> Option<&str> {
        match self {
            Selector::JsonPointer(p) => p.field_name(),
            Selector::Form(name) => Some(name),
            Selector::Header(_) | Selector::Query(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::request::body::parse;
    use crate::core::request::json;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn json_pointers_find_what_serde_json_finds() {
        let text = r#"{"a":{"b":[10,{"c/d":1,"e~f":2}],"":3,"01":4},"list":["x","y"]}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let ours = json::parse(text).unwrap();
        for text in [
            "",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c~1d",
            "/a/b/1/e~0f",
            "/a/",
            "/a/01",
            "/list/1",
            "/list/01",
            "/list/-",
            "/list/2",
            "/list/+1",
            "/missing/x",
            "/a/b/0/x",
        ] {
            assert_eq!(
                JsonPointer::new(text).find(&ours).map(json::to_serde),
                value.pointer(text).cloned(),
                "{text}"
            );
        }
    }

    #[test]
    fn selectors_read_json_form_headers_and_query() {
        let body = parse(
            JSON,
            br#"{"userDocumentNumber":"45678912","amount":120.5,"user":{"id":7},"n":null,"o":{}}"#,
            BodyKind::Json,
        )
        .unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-device-id", "dev-1".parse().unwrap());
        let sel = |s: &str| {
            Selector::parse(s)
                .unwrap()
                .select(&body, &headers, Some("dni=1&a=2"))
        };
        assert_eq!(sel("json:/userDocumentNumber"), Ok(Some("45678912".into())));
        assert_eq!(sel("json:/amount"), Ok(Some("120.5".into())));
        assert_eq!(sel("json:/user/id"), Ok(Some("7".into())));
        assert_eq!(sel("json:/n"), Ok(None));
        assert_eq!(sel("json:/missing"), Ok(None));
        assert_eq!(sel("json:/o"), Err(BodyError::NotScalar("json:/o".into())));
        assert_eq!(sel("header:X-Device-Id"), Ok(Some("dev-1".into())));
        assert_eq!(sel("query:dni"), Ok(Some("1".into())));
        let dup =
            Selector::parse("query:dni")
                .unwrap()
                .select(&body, &headers, Some("dni=1&dni=2"));
        assert_eq!(dup, Err(BodyError::DuplicateKey("dni".into())));
    }

    #[test]
    fn form_fields_repeated_are_refused_only_when_read() {
        let form = Some("application/x-www-form-urlencoded");
        let body = parse(
            form,
            b"dni=4567%208912&tag=a&tag=b&email=ana%40example.pe",
            BodyKind::Form,
        )
        .unwrap();
        let headers = http::HeaderMap::new();
        let sel = |s: &str| Selector::parse(s).unwrap().select(&body, &headers, None);
        assert_eq!(sel("form:dni"), Ok(Some("4567 8912".into())));
        assert_eq!(sel("form:email"), Ok(Some("ana@example.pe".into())));
        assert_eq!(sel("form:tag"), Err(BodyError::DuplicateKey("tag".into())));
    }

    #[test]
    fn a_key_that_folds_to_a_selected_key_is_a_repeat() {
        let sel = |json: &str, pointer: &str| {
            let body = parse(JSON, json.as_bytes(), BodyKind::Json).unwrap();
            Selector::parse(pointer)
                .unwrap()
                .select(&body, &http::HeaderMap::new(), None)
        };
        let dni = "json:/userDocumentNumber";
        assert_eq!(
            sel(
                r#"{"userDocumentNumber":"1","USERDOCUMENTNUMBER":"2"}"#,
                dni
            ),
            Err(BodyError::DuplicateKey("userDocumentNumber".into()))
        );
        assert_eq!(
            sel(r#"{"USERDOCUMENTNUMBER":"2"}"#, dni),
            Err(BodyError::KeyCase("USERDOCUMENTNUMBER".into()))
        );
        // The Kelvin sign and the long s fold to ASCII letters in Go's EqualFold.
        assert_eq!(
            sel("{\"\u{212A}ey\":\"2\",\"key\":\"1\"}", "json:/key"),
            Err(BodyError::DuplicateKey("key".into()))
        );
        assert_eq!(
            sel("{\"\u{017F}ig\":\"2\"}", "json:/sig"),
            Err(BodyError::KeyCase("\u{017F}ig".into()))
        );
        // Along the path too; keys no selector reads may differ in case freely.
        assert_eq!(
            sel(
                r#"{"data":{"cip":"1"},"DATA":{"cip":"2"}}"#,
                "json:/data/cip"
            ),
            Err(BodyError::DuplicateKey("data".into()))
        );
        assert_eq!(
            sel(r#"{"userDocumentNumber":"1","note":"a","NOTE":"b"}"#, dni),
            Ok(Some("1".into()))
        );
    }

    #[test]
    fn json_numbers_are_read_by_their_value() {
        let scalar = |json: &str| {
            let body = parse(JSON, json.as_bytes(), BodyKind::Json).unwrap();
            Selector::parse("json:/n")
                .unwrap()
                .select_scalar(&body, &http::HeaderMap::new(), None)
                .unwrap()
                .unwrap()
        };
        let whole = |t: &str| (t.to_string(), ScalarKind::WholeNumber);
        assert_eq!(scalar(r#"{"n":11223344}"#), whole("11223344"));
        assert_eq!(scalar(r#"{"n":11223344.0}"#), whole("11223344"));
        assert_eq!(scalar(r#"{"n":1.1223344e7}"#), whole("11223344"));
        assert_eq!(scalar(r#"{"n":112233440E-1}"#), whole("11223344"));
        assert_eq!(scalar(r#"{"n":-5.0}"#), whole("-5"));
        assert_eq!(
            scalar(r#"{"n":11223344.5}"#),
            ("11223344.5".to_string(), ScalarKind::Fraction)
        );
        assert_eq!(scalar(r#"{"n":1e300}"#).1, ScalarKind::Fraction);
        assert_eq!(
            scalar(r#"{"n":"11223344.0"}"#),
            ("11223344.0".to_string(), ScalarKind::Text)
        );
    }

    #[test]
    fn selector_syntax() {
        assert!(Selector::parse("json:userEmail").is_err());
        assert!(Selector::parse("cookie:x").is_err());
        assert!(Selector::parse("header:bad header").is_err());
        assert!(Selector::parse("form:").is_err());
    }
}
