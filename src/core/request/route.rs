//! Routes: which policy a request falls under, chosen by normalised path and method.
//!
//! Routes are tried in the order the file lists them and the first route whose path and
//! method both match wins. A path belongs to the routes that list it whatever the method: a
//! request whose path some route matches but whose method no such route takes is refused
//! with 405 (and the methods those routes take), never handed to a later route or to the
//! default policy, so a POST-only webhook has no second door through PUT. `HEAD` is taken
//! wherever `GET` is. A request whose path no route matches gets the default policy under
//! the route name `default`. A path pattern
//! is a normalised path whose segments may be `*` (exactly one segment) and whose last
//! segment may be `**` (any number of segments, none included): `/v1/cips`,
//! `/v1/orders/*/pay`, `/checkout/**`. Patterns are normalised like request paths, so they
//! are case-insensitive too.
//!
//! A route also matches its path with a format suffix on the last segment
//! (`/v1/cips.json`, `/v1/cips.xml`): Rails routes `(.:format)` and Spring's suffix
//! matching serve those from the same action, so they must be judged by the same policy.
//! A route that says `exact = true` matches only the path itself.

use crate::core::request::path;
use std::sync::Arc;

use crate::core::policy::PolicyId;

/// A route's name: how decisions, logs and metrics refer to it. Unique in a config;
/// `default` is the route of requests no route's path matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteName(Arc<str>);

impl RouteName {
    pub fn new(name: &str) -> Self {
        Self(Arc::from(name))
    }

    /// The route of requests no route's path matches.
    pub fn default_route() -> Self {
        Self::new("default")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RouteName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for RouteName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RouteName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    AnyOne,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// As written in the config, for `check`.
    text: String,
    segments: Vec<Segment>,
    /// Ends in `**`: matches the prefix and anything below it.
    open_ended: bool,
}

impl PathPattern {
    /// Parse a pattern; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let normal = path::normalize(text).map_err(|e| format!("a route path pattern ({e})"))?;
        let mut segments = Vec::new();
        let mut open_ended = false;
        let parts: Vec<&str> = normal.split('/').filter(|s| !s.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            match *part {
                "**" if i + 1 == parts.len() => open_ended = true,
                "**" => return Err("'**' only as the last segment of a path pattern".into()),
                "*" => segments.push(Segment::AnyOne),
                p if p.contains('*') => {
                    return Err("'*' or '**' as a whole segment, not inside one".into())
                }
                p => segments.push(Segment::Literal(p.to_string())),
            }
        }
        Ok(Self {
            text: text.to_string(),
            segments,
            open_ended,
        })
    }

    /// `normalized` must come from [`path::normalize`]. With `format_suffix`, the
    /// request's last segment may carry a format suffix (`cips.json` for `cips`).
    pub fn matches(&self, normalized: &str, format_suffix: bool) -> bool {
        let mut parts = normalized.split('/').filter(|s| !s.is_empty()).peekable();
        for segment in &self.segments {
            let got = parts.next();
            let last = parts.peek().is_none();
            match (segment, got) {
                (Segment::Literal(want), Some(got)) if want == got => {}
                (Segment::Literal(want), Some(got))
                    if format_suffix && last && without_format(got) == Some(want.as_str()) => {}
                (Segment::AnyOne, Some(_)) => {}
                _ => return false,
            }
        }
        self.open_ended || parts.next().is_none()
    }
}

/// `cips` for `cips.json`: a segment without its format suffix (a dot and 1 to 10
/// letters or digits, as Rails' `:format` and Spring's suffixes read it).
fn without_format(segment: &str) -> Option<&str> {
    let (stem, format) = segment.rsplit_once('.')?;
    let is_format =
        (1..=10).contains(&format.len()) && format.bytes().all(|b| b.is_ascii_alphanumeric());
    (is_format && !stem.is_empty()).then_some(stem)
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: RouteName,
    /// Upper-case methods; `None` matches any method.
    pub methods: Option<Vec<String>>,
    pub patterns: Vec<PathPattern>,
    pub policy: PolicyId,
    /// Match only the paths themselves, not their format-suffixed spellings.
    pub exact: bool,
    /// Let requests on this route upgrade the connection (WebSocket); refused otherwise.
    pub upgrade: bool,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    default_name: RouteName,
    default_policy: PolicyId,
}

/// The route a request fell under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub name: RouteName,
    pub policy: PolicyId,
    /// The route lets the connection be upgraded.
    pub upgrade: bool,
}

/// The path belongs to routes that do not take the request's method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodNotAllowed {
    /// The first route whose path matched, for the log and the metrics.
    pub route: RouteName,
    /// The `Allow` header: every method the routes on this path take.
    pub allow: String,
}

impl Route {
    fn takes(&self, method: &str) -> bool {
        self.methods.as_ref().is_none_or(|ms| {
            ms.iter().any(|m| {
                m.eq_ignore_ascii_case(method)
                    || (m == "GET" && method.eq_ignore_ascii_case("HEAD"))
            })
        })
    }

    fn matches_path(&self, normalized_path: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.matches(normalized_path, !self.exact))
    }
}

impl RouteTable {
    pub fn new(routes: Vec<Route>, default_policy: PolicyId) -> Self {
        Self {
            routes,
            default_name: RouteName::default_route(),
            default_policy,
        }
    }

    /// Every route's name, the default route's among them.
    pub fn names(&self) -> impl Iterator<Item = &RouteName> {
        self.routes
            .iter()
            .map(|r| &r.name)
            .chain(std::iter::once(&self.default_name))
    }

    /// The first route whose path and method match; the default policy when no route's
    /// path matches; 405 when some route's path matches but none of them takes the method.
    pub fn select(
        &self,
        method: &str,
        normalized_path: &str,
    ) -> Result<RouteMatch, MethodNotAllowed> {
        let mut on_path = self
            .routes
            .iter()
            .filter(|r| r.matches_path(normalized_path))
            .peekable();
        let Some(&first) = on_path.peek() else {
            return Ok(RouteMatch {
                name: self.default_name.clone(),
                policy: self.default_policy,
                upgrade: false,
            });
        };
        if let Some(route) = on_path.find(|r| r.takes(method)) {
            return Ok(RouteMatch {
                name: route.name.clone(),
                policy: route.policy,
                upgrade: route.upgrade,
            });
        }
        Err(MethodNotAllowed {
            route: first.name.clone(),
            allow: self.allowed_methods(normalized_path),
        })
    }

    /// The methods the routes on a path take, in the order the config lists them, with
    /// `HEAD` after `GET`.
    fn allowed_methods(&self, normalized_path: &str) -> String {
        let mut allow: Vec<&str> = Vec::new();
        let methods = self
            .routes
            .iter()
            .filter(|r| r.matches_path(normalized_path))
            .filter_map(|r| r.methods.as_deref())
            .flatten();
        for method in methods {
            let head = (method == "GET").then_some("HEAD");
            for m in std::iter::once(method.as_str()).chain(head) {
                if !allow.contains(&m) {
                    allow.push(m);
                }
            }
        }
        allow.join(", ")
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn default_policy(&self) -> PolicyId {
        self.default_policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> PolicyId {
        PolicyId::for_test(n)
    }

    fn table() -> RouteTable {
        let route = |name: &str, methods: Option<&[&str]>, paths: &[&str], policy| Route {
            name: RouteName::new(name),
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            patterns: paths
                .iter()
                .map(|p| PathPattern::parse(p).unwrap())
                .collect(),
            policy,
            exact: name == "exact",
            upgrade: false,
        };
        RouteTable::new(
            vec![
                route("cips", Some(&["POST"]), &["/v1/cips"], id(1)),
                route("pay", None, &["/v1/orders/*/pay"], id(2)),
                route("checkout", None, &["/checkout/**"], id(3)),
                route("exact", None, &["/v1/exact"], id(4)),
            ],
            id(0),
        )
    }

    fn select(method: &str, raw: &str) -> (String, PolicyId) {
        let m = table()
            .select(method, &path::normalize(raw).unwrap())
            .expect("a route or the default");
        (m.name.to_string(), m.policy)
    }

    #[test]
    fn first_matching_route_wins_and_the_rest_get_the_default() {
        assert_eq!(select("POST", "/v1/cips"), ("cips".into(), id(1)));
        assert_eq!(select("GET", "/v1/orders/42/pay"), ("pay".into(), id(2)));
        assert_eq!(
            select("GET", "/v1/orders/42/pay/x"),
            ("default".into(), id(0))
        );
        assert_eq!(select("GET", "/v1/orders/pay"), ("default".into(), id(0)));
        assert_eq!(select("GET", "/checkout"), ("checkout".into(), id(3)));
        assert_eq!(select("GET", "/checkout/a/b"), ("checkout".into(), id(3)));
        assert_eq!(select("GET", "/checkoutx"), ("default".into(), id(0)));
    }

    #[test]
    fn path_tricks_land_on_the_route() {
        for raw in [
            "/V1/CIPS",
            "//v1//cips",
            "/x/../v1/cips",
            "/v1%2Fcips",
            "/v1/cips/",
            "/v1;a=b/cips",
        ] {
            assert_eq!(select("post", raw), ("cips".into(), id(1)), "{raw}");
        }
    }

    #[test]
    fn format_suffixes_land_on_the_route_unless_it_is_exact() {
        for raw in ["/v1/cips.json", "/v1/CIPS.XML", "/v1/cips.json/"] {
            assert_eq!(select("post", raw), ("cips".into(), id(1)), "{raw}");
        }
        assert_eq!(
            select("GET", "/v1/orders/7/pay.json"),
            ("pay".into(), id(2))
        );
        assert_eq!(select("GET", "/checkout.json"), ("checkout".into(), id(3)));
        assert_eq!(select("GET", "/v1/exact"), ("exact".into(), id(4)));
        assert_eq!(select("GET", "/v1/exact.json"), ("default".into(), id(0)));
        // Only a format: one dot and letters or digits, on the last segment.
        assert_eq!(select("POST", "/v1/cips.json/x"), ("default".into(), id(0)));
        assert_eq!(select("POST", "/v1/cips.js-on"), ("default".into(), id(0)));
        assert_eq!(select("POST", "/v1/cipsjson"), ("default".into(), id(0)));
    }

    #[test]
    fn a_path_belongs_to_its_routes_whatever_the_method() {
        for method in ["PUT", "PATCH", "DELETE", "GET", "HEAD", "OPTIONS", "BREW"] {
            let refused = table()
                .select(method, &path::normalize("/v1/CIPS/").unwrap())
                .unwrap_err();
            assert_eq!(&*refused.route, "cips", "{method}");
            assert_eq!(refused.allow, "POST", "{method}");
        }
    }

    #[test]
    fn routes_on_one_path_split_it_by_method_and_head_follows_get() {
        let route = |name: &str, methods: &[&str], policy| Route {
            name: RouteName::new(name),
            methods: Some(methods.iter().map(|s| s.to_string()).collect()),
            patterns: vec![PathPattern::parse("/v1/orders/*").unwrap()],
            policy,
            exact: false,
            upgrade: false,
        };
        let t = RouteTable::new(
            vec![
                route("create", &["POST"], id(1)),
                route("read", &["GET"], id(2)),
                route("any-post", &["POST", "PUT"], id(3)),
            ],
            id(0),
        );
        let pick = |m: &str| {
            t.select(m, "/v1/orders/7")
                .map(|r| (r.name.to_string(), r.policy))
        };
        assert_eq!(pick("POST"), Ok(("create".into(), id(1))));
        assert_eq!(pick("GET"), Ok(("read".into(), id(2))));
        assert_eq!(pick("HEAD"), Ok(("read".into(), id(2))));
        assert_eq!(pick("PUT"), Ok(("any-post".into(), id(3))));
        let refused = t.select("DELETE", "/v1/orders/7").unwrap_err();
        assert_eq!(&*refused.route, "create");
        assert_eq!(refused.allow, "POST, GET, HEAD, PUT");
        assert_eq!(pick("DELETE").ok(), None);
        assert_eq!(
            t.select("DELETE", "/v1/other").map(|r| r.policy),
            Ok(id(0)),
            "a path no route lists gets the default"
        );
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(PathPattern::parse("v1/cips").is_err());
        assert!(PathPattern::parse("/a/**/b").is_err());
        assert!(PathPattern::parse("/a/b*").is_err());
    }
}
