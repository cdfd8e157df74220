//! A person at the review console over plain HTTP: signs in with a token, keeps the
//! session cookie, reads pages in a language and posts forms with the session's CSRF
//! token (read from a page, as a browser's form carries it).

use super::TestGateway;
use garita::cli::demo::client::{RawRequest, RawResponse};

pub struct ConsoleUser<'g> {
    gw: &'g TestGateway,
    pub cookie: String,
}

/// The body of an answer, as text.
pub fn page_text(r: &RawResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

impl<'g> ConsoleUser<'g> {
    /// Sign in with `token`; panics unless the console lets them in.
    pub fn sign_in(gw: &'g TestGateway, token: &str) -> Self {
        let signed = RawRequest::new("POST", "/console/login")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send(gw.admin.expect("an admin listener"))
            .expect("admin answers");
        assert_eq!(signed.status, 303, "{}", page_text(&signed));
        let cookie = signed
            .header("set-cookie")
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        ConsoleUser { gw, cookie }
    }

    pub fn get(&self, path: &str) -> RawResponse {
        RawRequest::new("GET", path)
            .header("Accept-Language", "en")
            .header("Cookie", &self.cookie)
            .send(self.gw.admin.unwrap())
            .expect("admin answers")
    }

    /// A page's text, which must answer 200.
    pub fn page(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status, 200, "{path}: {}", page_text(&r));
        page_text(&r)
    }

    /// The session's CSRF token, as the queue page's forms carry it.
    pub fn csrf(&self) -> String {
        let page = self.page("/console/");
        page.split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form with the CSRF token")
            .to_string()
    }

    /// Post `form` (urlencoded) as it is: add `csrf=...` to send the token.
    pub fn post(&self, path: &str, form: &str) -> RawResponse {
        RawRequest::new("POST", path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", &self.cookie)
            .body(form.to_string())
            .send(self.gw.admin.unwrap())
            .expect("admin answers")
    }
}
