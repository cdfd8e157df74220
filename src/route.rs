//! Routes: which policy a request falls under, chosen by method and normalised path.
//!
//! Routes are tried in the order the file lists them and the first match wins; a request
//! no route matches gets the default policy under the route name `default`. A path pattern
//! is a normalised path whose segments may be `*` (exactly one segment) and whose last
//! segment may be `**` (any number of segments, none included): `/v1/cips`,
//! `/v1/orders/*/pay`, `/checkout/**`. Patterns are normalised like request paths, so they
//! are case-insensitive too.

use crate::path;
use std::sync::Arc;

/// Index of a compiled policy in the gateway's policy table.
pub type PolicyId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    AnyOne,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
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
            segments,
            open_ended,
        })
    }

    /// `normalized` must come from [`path::normalize`].
    pub fn matches(&self, normalized: &str) -> bool {
        let mut parts = normalized.split('/').filter(|s| !s.is_empty());
        for segment in &self.segments {
            match (segment, parts.next()) {
                (Segment::Literal(want), Some(got)) if want == got => {}
                (Segment::AnyOne, Some(_)) => {}
                _ => return false,
            }
        }
        self.open_ended || parts.next().is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: Arc<str>,
    /// Upper-case methods; `None` matches any method.
    pub methods: Option<Vec<String>>,
    pub patterns: Vec<PathPattern>,
    pub policy: PolicyId,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    default_name: Arc<str>,
    default_policy: PolicyId,
}

/// The route a request fell under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub name: Arc<str>,
    pub policy: PolicyId,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>, default_policy: PolicyId) -> Self {
        Self {
            routes,
            default_name: Arc::from("default"),
            default_policy,
        }
    }

    pub fn select(&self, method: &str, normalized_path: &str) -> RouteMatch {
        for route in &self.routes {
            let method_ok = route
                .methods
                .as_ref()
                .is_none_or(|m| m.iter().any(|x| x.eq_ignore_ascii_case(method)));
            if method_ok && route.patterns.iter().any(|p| p.matches(normalized_path)) {
                return RouteMatch {
                    name: route.name.clone(),
                    policy: route.policy,
                };
            }
        }
        RouteMatch {
            name: self.default_name.clone(),
            policy: self.default_policy,
        }
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

    fn table() -> RouteTable {
        let route = |name: &str, methods: Option<&[&str]>, paths: &[&str], policy| Route {
            name: Arc::from(name),
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            patterns: paths
                .iter()
                .map(|p| PathPattern::parse(p).unwrap())
                .collect(),
            policy,
        };
        RouteTable::new(
            vec![
                route("cips", Some(&["POST"]), &["/v1/cips"], 1),
                route("pay", None, &["/v1/orders/*/pay"], 2),
                route("checkout", None, &["/checkout/**"], 3),
            ],
            0,
        )
    }

    fn select(method: &str, raw: &str) -> (String, PolicyId) {
        let m = table().select(method, &path::normalize(raw).unwrap());
        (m.name.to_string(), m.policy)
    }

    #[test]
    fn first_matching_route_wins_and_the_rest_get_the_default() {
        assert_eq!(select("POST", "/v1/cips"), ("cips".into(), 1));
        assert_eq!(select("GET", "/v1/cips"), ("default".into(), 0));
        assert_eq!(select("GET", "/v1/orders/42/pay"), ("pay".into(), 2));
        assert_eq!(select("GET", "/v1/orders/42/pay/x"), ("default".into(), 0));
        assert_eq!(select("GET", "/v1/orders/pay"), ("default".into(), 0));
        assert_eq!(select("GET", "/checkout"), ("checkout".into(), 3));
        assert_eq!(select("GET", "/checkout/a/b"), ("checkout".into(), 3));
        assert_eq!(select("GET", "/checkoutx"), ("default".into(), 0));
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
            assert_eq!(select("post", raw), ("cips".into(), 1), "{raw}");
        }
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(PathPattern::parse("v1/cips").is_err());
        assert!(PathPattern::parse("/a/**/b").is_err());
        assert!(PathPattern::parse("/a/b*").is_err());
    }
}
