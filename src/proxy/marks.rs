//! Request headers garita drops before anything reads them.
//!
//! A header whose name contains `_` is dropped unless `server.underscores_in_headers =
//! "keep"`, as NGINX does by default: CGI, WSGI, PHP and Rack turn `-` into `_` when they
//! make variables of header names, so `X_Forwarded_For` or `X_Garita_Decision` would
//! reach such a backend as the headers garita vouches for. Nothing garita reads is
//! spelled with `_`, so a legitimate client loses nothing it needs.

use pingora::http::RequestHeader;

/// Longest list of dropped names the decision log keeps, in bytes.
const MAX_LOGGED_NAMES: usize = 256;

/// Remove every header whose name contains `_`; the names removed, comma-separated and
/// cut to a bounded length, for the log (`None`: nothing was removed, nothing allocated).
pub fn drop_underscore_headers(req: &mut RequestHeader) -> Option<(usize, String)> {
    if !req.headers.keys().any(|n| n.as_str().contains('_')) {
        return None;
    }
    let names: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| n.as_str().contains('_'))
        .cloned()
        .collect();
    let mut logged = String::new();
    for name in &names {
        req.remove_header(name);
        if logged.len() + name.as_str().len() + 2 <= MAX_LOGGED_NAMES {
            if !logged.is_empty() {
                logged.push_str(", ");
            }
            logged.push_str(name.as_str());
        }
    }
    Some((names.len(), logged))
}
