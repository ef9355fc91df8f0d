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
            Some(text) if text.chars().count() > max_chars => {
                self.add(field, "validation.too_long");
                None
            }
            Some(text) => Some(text.to_string()),
        }
    }
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
}
