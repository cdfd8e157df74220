//! The review console, served by the admin listener at `/console/`: server-rendered
//! pages ([`pages`]) in the person's language ([`i18n`]), opened by signing in with a
//! token ([`session`]).
//!
//! Every answer forbids framing and allows only the console's own files
//! (`Content-Security-Policy: default-src 'self'`), caches nothing, and is HTML or one of
//! the two embedded assets. Without a live session every page but the sign-in page sends
//! the browser there and shows nothing else; every change (signing out, and the
//! decisions to come) carries the session's CSRF token, and one without it is refused.

mod customer;
mod explain;
pub mod i18n;
mod overview;
pub mod pages;
mod reviews;
pub mod session;
mod work;

use super::admin::{read_body, token_named};
use super::served::Served;
use i18n::Lang;
use pingora::protocols::http::ServerSession;
use session::{Attempt, LoginThrottle, Sessions};

const CSS: &str = include_str!("static/console.css");
const JS: &str = include_str!("static/console.js");
const SESSION_COOKIE: &str = "garita_session";
const LANG_COOKIE: &str = "garita_lang";
/// What every console answer says about framing, scripts and caching.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    // Not `no-referrer`: under it a browser posts a form with `Origin: null`, and the
    // console could no longer tell its own forms from another site's.
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
];

type Reply = http::Response<Vec<u8>>;

/// Writes an audit line: the event, who, and its details.
pub type Audit<'a> = dyn Fn(&'static str, &str, serde_json::Value) + Sync + 'a;

#[derive(Default)]
pub struct Console {
    sessions: Sessions,
    throttle: LoginThrottle,
}

/// An answer with the console's headers.
fn answer(status: u16, content_type: &str, body: Vec<u8>, extra: &[(&str, String)]) -> Reply {
    let mut response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len());
    for (name, value) in SECURITY_HEADERS {
        response = response.header(name, value);
    }
    for (name, value) in extra {
        response = response.header(*name, value);
    }
    response.body(body).expect("valid response")
}

pub(super) fn html(status: u16, text: String, extra: &[(&str, String)]) -> Reply {
    answer(status, "text/html; charset=utf-8", text.into_bytes(), extra)
}

pub(super) fn see_other(to: &str, extra: &[(&str, String)]) -> Reply {
    let mut headers = vec![("location", to.to_string())];
    headers.extend(extra.iter().cloned());
    answer(303, "text/plain; charset=utf-8", Vec::new(), &headers)
}

/// The value of cookie `name` in the request.
fn cookie(session: &ServerSession, name: &str) -> Option<String> {
    session
        .req_header()
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a request's `Origin` (browsers send it with every POST) names the host it
/// was sent to, and its `Sec-Fetch-Site`, when sent, says the same; a request with
/// neither (a script's) is taken as it is.
fn same_origin(session: &ServerSession) -> bool {
    let headers = &session.req_header().headers;
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    let Some(origin) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or("", |(_, rest)| rest.trim_end_matches('/'));
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// A form field of an `application/x-www-form-urlencoded` body.
pub(super) fn field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

impl Console {
    /// The language of this request, and the cookie that keeps a choice made on the page.
    fn language(session: &ServerSession) -> (Lang, Option<(&'static str, String)>) {
        let req = session.req_header();
        let chosen = req
            .uri
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(n, _)| n == "lang"))
            .and_then(|(_, v)| Lang::from_code(&v));
        if let Some(lang) = chosen {
            let keep = format!(
                "{LANG_COOKIE}={}; Path=/console; SameSite=Strict; Max-Age=31536000",
                lang.code()
            );
            return (lang, Some(("set-cookie", keep)));
        }
        let kept = cookie(session, LANG_COOKIE).and_then(|c| Lang::from_code(&c));
        let header = req
            .headers
            .get(http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        (kept.unwrap_or_else(|| Lang::negotiate(header)), None)
    }

    pub async fn serve(
        &self,
        session: &mut ServerSession,
        served: &Served,
        path: &str,
        audit: &Audit<'_>,
    ) -> Reply {
        let Some(admin) = &served.config.admin else {
            return html(404, String::new(), &[]);
        };
        let method = session.req_header().method.clone();
        match (method.as_str(), path) {
            ("GET", "/console/static/console.css") => {
                return answer(200, "text/css; charset=utf-8", CSS.into(), &[])
            }
            ("GET", "/console/static/console.js") => {
                return answer(200, "text/javascript; charset=utf-8", JS.into(), &[])
            }
            _ => {}
        }
        // A form posted from another site is refused whatever it carries (a sign-in
        // included: nobody is signed in to someone else's session behind their back).
        if method == http::Method::POST && !same_origin(session) {
            return html(403, String::new(), &[]);
        }
        let (lang, keep_lang) = Self::language(session);
        let mut extra: Vec<(&str, String)> = keep_lang.into_iter().collect();
        let now = served.runtime.now().as_second();
        let secure = if admin.tls.is_some() { "; Secure" } else { "" };
        match (method.as_str(), path) {
            ("GET", "/console/login") => return html(200, pages::login(lang, None), &extra),
            ("POST", "/console/login") => {
                let from = session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip())
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                let wait = match self.throttle.check(from, now) {
                    Attempt::Locked(seconds) => {
                        let minutes = ((seconds + 59) / 60).to_string();
                        let text =
                            i18n::fill(&i18n::TOO_MANY_TRIES, lang, &[("minutes", &minutes)]);
                        return html(429, pages::login(lang, Some(&text)), &extra);
                    }
                    Attempt::After(wait) => wait,
                };
                let body = read_body(session).await.unwrap_or_default();
                let presented = field(&body, "token").unwrap_or_default();
                let Some(token) = token_named(&admin.tokens, presented.as_bytes()) else {
                    self.throttle.failed(from, now);
                    tokio::time::sleep(wait).await;
                    log::warn!("console: a failed sign-in from {from}");
                    let text = i18n::WRONG_TOKEN.get(lang);
                    return html(401, pages::login(lang, Some(text)), &extra);
                };
                self.throttle.succeeded(from);
                let opened = self
                    .sessions
                    .open(token.name.clone(), token.role, token.digest, now);
                log::info!(
                    "console: {} signed in ({})",
                    token.name,
                    token.role.as_str()
                );
                extra.push((
                    "set-cookie",
                    format!(
                        "{SESSION_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict{secure}",
                        opened.id
                    ),
                ));
                return see_other("/console/", &extra);
            }
            _ => {}
        }
        // Everything else needs a live session whose token is still configured.
        let live = cookie(session, SESSION_COOKIE)
            .and_then(|id| self.sessions.find(&id, now))
            .filter(|s| {
                admin
                    .tokens
                    .iter()
                    .any(|t| t.digest == s.token && t.name == s.name && t.role == s.role)
            });
        let Some(signed_in) = live else {
            return see_other("/console/login", &extra);
        };
        match (method.as_str(), path) {
            ("GET", "/console/" | "/console") => {
                let raw = session.req_header().uri.query().unwrap_or("").to_string();
                let filters = match work::Filters::from_query(&raw) {
                    Ok(filters) => filters,
                    Err(why) => return html(400, pages::escape(&why), &extra),
                };
                let Ok(page) = served.review_page(&filters.query).await else {
                    return html(503, String::new(), &extra);
                };
                let viewer = pages::Viewer {
                    name: &signed_in.name,
                    role: signed_in.role.as_str(),
                    csrf: &signed_in.csrf,
                    works: signed_in.role >= crate::config::Role::Reviewer,
                };
                let calendar = &served.config.identity.calendar;
                let shown = pages::Shown {
                    query: &filters.query,
                    kept: &filters.kept,
                };
                html(
                    200,
                    pages::queue(lang, &viewer, &page, &shown, calendar, now),
                    &extra,
                )
            }
            ("POST", "/console/logout") => {
                let body = read_body(session).await.unwrap_or_default();
                let csrf = field(&body, "csrf").unwrap_or_default();
                if !signed_in.csrf_matches(&csrf) {
                    return html(
                        403,
                        pages::login(lang, Some(i18n::BAD_FORM.get(lang))),
                        &extra,
                    );
                }
                self.sessions.close(&signed_in.id);
                log::info!("console: {} signed out", signed_in.name);
                extra.push((
                    "set-cookie",
                    format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
                ));
                see_other("/console/login", &extra)
            }
            (method, work_path) => {
                let view = reviews::View {
                    lang,
                    signed_in: &signed_in,
                    served,
                    now,
                    audit,
                };
                let raw = session.req_header().uri.query().unwrap_or("").to_string();
                let Ok(filters) = work::Filters::from_query(&raw) else {
                    return html(400, String::new(), &extra);
                };
                match (method, work_path) {
                    ("GET", "/console/overview") => {
                        let seen = overview::gather(served).await;
                        let viewer = pages::Viewer {
                            name: &signed_in.name,
                            role: signed_in.role.as_str(),
                            csrf: &signed_in.csrf,
                            works: signed_in.role >= crate::config::Role::Reviewer,
                        };
                        let calendar = &served.config.identity.calendar;
                        return html(200, pages::overview(lang, &viewer, &seen, calendar), &extra);
                    }
                    ("GET", "/console/next") => return work::next(&view, &filters, &extra).await,
                    ("POST", "/console/bulk") => {
                        let body = read_body(session).await.unwrap_or_default();
                        return work::bulk(&view, &body, &extra).await;
                    }
                    _ => {}
                }
                let Some(rest) = work_path.strip_prefix("/console/reviews/") else {
                    return html(404, String::new(), &extra);
                };
                let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
                match (method, action) {
                    ("GET", "") => reviews::show(&view, id, &filters, &extra).await,
                    ("POST", "decide" | "notes" | "escalate") => {
                        let body = read_body(session).await.unwrap_or_default();
                        reviews::change(&view, id, action, &body, &extra).await
                    }
                    _ => html(404, String::new(), &extra),
                }
            }
        }
    }
}
