//! `PageForm`: the body of a page's form post, field by field. Strict where actix's
//! `Form` is lenient: a field whose percent-decoded bytes are not UTF-8 makes the
//! whole post a 400 instead of being stored with U+FFFD in place of what was sent,
//! and a body over the limit is a 413.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};

use crate::web::error::AppError;
use crate::web::AppState;

/// The fields of a posted form (the last value of a repeated name).
#[derive(Debug, Default)]
pub struct PageForm(HashMap<String, String>);

impl PageForm {
    pub fn into_inner(self) -> HashMap<String, String> {
        self.0
    }
}

impl std::ops::Deref for PageForm {
    type Target = HashMap<String, String>;
    fn deref(&self) -> &HashMap<String, String> {
        &self.0
    }
}

/// One `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a
/// byte; the bytes must be UTF-8. `None` for a bad escape or bad UTF-8.
fn decode(component: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(component.len());
    let mut i = 0;
    while i < component.len() {
        match component[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = component.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).ok()
}

/// Parses a whole urlencoded body strictly.
pub fn parse(body: &[u8]) -> Option<HashMap<String, String>> {
    let mut fields = HashMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        fields.insert(decode(name)?, decode(value)?);
    }
    Some(fields)
}

impl FromRequest for PageForm {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.max_body_bytes)
            .unwrap_or(256 * 1024);
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
            .unwrap_or(false);
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes: Bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::payload_too_large(limit)
                } else {
                    AppError::bad_request("error.malformed_form")
                }
            })?;
            if !is_form {
                return Err(AppError::bad_request("error.malformed_form"));
            }
            parse(&bytes)
                .map(PageForm)
                .ok_or_else(|| AppError::bad_request("error.malformed_form"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_like_a_browser_sends_them() {
        let fields = parse(b"title=%E7%94%B3%E8%AB%8B+%E6%9B%B8&empty=&flag&a%2Bb=1%262")
            .expect("a valid form");
        assert_eq!(fields["title"], "申請 書");
        assert_eq!(fields["empty"], "");
        assert_eq!(fields["flag"], "");
        assert_eq!(fields["a+b"], "1&2");
    }

    #[test]
    fn invalid_utf8_and_bad_escapes_refuse_the_whole_form() {
        assert!(parse(b"title=%FF%FE").is_none());
        assert!(parse(b"title=%C3%28").is_none());
        assert!(parse(b"title=\xff").is_none());
        assert!(parse(b"title=%G1").is_none());
        assert!(parse(b"title=%4").is_none());
    }
}
