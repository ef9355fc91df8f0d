//! Field errors collected while parsing input, keyed by the field's wire name.
//! Messages are catalog keys; the web layer renders them in the caller's language.

use std::collections::BTreeMap;

/// Errors per field; empty means valid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<&'static str>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message_key: &'static str) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message_key);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `Ok(())` when nothing was collected, so parsers can end with `errors.into_result()?`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Trims a required text field and checks its length in characters.
    pub fn required_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max_chars: usize,
    ) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => {
                self.add(field, "validation.required");
                None
            }
            Some(text) if has_control_characters(text) => {
                self.add(field, "validation.control_characters");
                None
            }
            Some(text) if text.chars().count() > max_chars => {
                self.add(field, "validation.too_long");
                None
            }
            Some(text) => Some(text.to_string()),
        }
    }

    /// Trims an optional text field; blank becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max_chars: usize,
    ) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => None,
            Some(text) if has_control_characters(text) => {
                self.add(field, "validation.control_characters");
                None
            }
            Some(text) if text.chars().count() > max_chars => {
                self.add(field, "validation.too_long");
                None
            }
            Some(text) => Some(text.to_string()),
        }
    }
}

/// Whether text holds a control character other than tab and line breaks: NUL
/// (which PostgreSQL cannot store in text and SQLite would keep, so the two
/// backends would disagree), escape sequences that repaint a terminal reading
/// the logs or a CSV, and the like. No field of the product needs one.
pub fn has_control_characters(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_is_trimmed_and_blank_is_an_error() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            errors.required_text("title", Some("  申請  "), 10),
            Some("申請".to_string())
        );
        assert!(errors.is_empty());
        assert_eq!(errors.required_text("title", Some("   "), 10), None);
        assert!(errors.contains("title"));
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        let mut errors = FieldErrors::new();
        assert!(errors
            .required_text("title", Some("申請申請申請"), 6)
            .is_some());
        assert!(errors
            .required_text("body", Some("申請申請申請申"), 6)
            .is_none());
        assert_eq!(errors.0["body"], vec!["validation.too_long"]);
    }

    #[test]
    fn control_characters_other_than_tab_and_line_breaks_are_refused() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            errors.required_text("body", Some("一行目\r\n\t二行目"), 100),
            Some("一行目\r\n\t二行目".to_string())
        );
        assert!(errors.is_empty());
        for hostile in ["前\u{0}後", "\u{1b}[31m赤", "前\u{7f}", "前\u{85}後"] {
            let mut errors = FieldErrors::new();
            assert_eq!(errors.required_text("title", Some(hostile), 100), None);
            assert_eq!(errors.optional_text("contact", Some(hostile), 100), None);
            assert_eq!(errors.0["title"], vec!["validation.control_characters"]);
            assert_eq!(errors.0["contact"], vec!["validation.control_characters"]);
        }
    }
}
