//! A browser without a browser, shared by the page tests and the contract test:
//! a ureq agent that keeps cookies, does not follow redirects and hands back the
//! CSRF token of its cookie for form posts.

use std::collections::HashMap;

use crate::helpers::{TestApp, PASSWORD};

/// One signed-in (or anonymous) visitor of the pages.
pub struct Session<'a> {
    app: &'a TestApp,
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
}

/// What a page request came back with.
pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub csp: Option<String>,
}

impl<'a> Session<'a> {
    pub fn new(app: &'a TestApp) -> Session<'a> {
        Session {
            app,
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &ureq::Response) {
        for header in response.all("set-cookie") {
            if let Some((name, rest)) = header.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default().to_string();
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value);
                }
            }
        }
    }

    fn finish(&mut self, result: Result<ureq::Response, ureq::Error>) -> Page {
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        self.keep_cookies(&response);
        Page {
            status: response.status(),
            location: response.header("location").map(str::to_string),
            csp: response
                .header("content-security-policy")
                .map(str::to_string),
            body: response.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let request = self
            .agent
            .get(&format!("{}{path}", self.app.base))
            .set("Cookie", &self.cookie_header());
        self.finish(request.call())
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .agent
            .post(&format!("{}{path}", self.app.base))
            .set("Cookie", &self.cookie_header());
        self.finish(request.send_form(form))
    }

    pub fn csrf(&self) -> String {
        self.cookies
            .get("digicon_csrf")
            .cloned()
            .expect("a CSRF cookie")
    }

    pub fn login(&mut self, email: &str) -> Page {
        self.get("/login");
        let csrf = self.csrf();
        self.post(
            "/login",
            &[("_csrf", &csrf), ("email", email), ("password", PASSWORD)],
        )
    }
}
