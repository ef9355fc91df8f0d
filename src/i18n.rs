//! The message catalogs (`views/i18n/<locale>.json`) and the choice of language.
//! Japanese is the default; English by the user's setting or `Accept-Language`.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Ja,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Ja => "ja",
            Locale::En => "en",
        }
    }

    pub fn parse(value: &str) -> Option<Locale> {
        match value {
            "ja" => Some(Locale::Ja),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// The most preferred of Japanese and English in an `Accept-Language` header;
    /// Japanese when neither is named.
    pub fn from_accept_language(value: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let locale = match tag.split('-').next() {
                Some("ja") => Locale::Ja,
                Some("en") => Locale::En,
                _ => continue,
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, locale));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

type Catalog = HashMap<String, String>;

fn catalogs() -> &'static (Catalog, Catalog) {
    static CATALOGS: OnceLock<(Catalog, Catalog)> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let parse = |text: &str| serde_json::from_str::<Catalog>(text).unwrap_or_default();
        (
            parse(include_str!("../views/i18n/ja.json")),
            parse(include_str!("../views/i18n/en.json")),
        )
    })
}

/// The message for a key, with `{name}` placeholders filled in. Falls back to
/// Japanese, then to the key itself, so a missing entry shows rather than vanishes.
pub fn t(locale: Locale, key: &str, args: &[(&str, String)]) -> String {
    let (ja, en) = catalogs();
    let catalog = match locale {
        Locale::Ja => ja,
        Locale::En => en,
    };
    let mut text = catalog
        .get(key)
        .or_else(|| ja.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// A time for people: `2025年4月1日(火) 09:00` in Japanese, `Tue 1 Apr 2025 09:00` in English.
pub fn format_datetime<Tz: chrono::TimeZone>(locale: Locale, at: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    use chrono::Datelike;
    match locale {
        Locale::Ja => format!(
            "{}年{}月{}日({}) {}",
            at.year(),
            at.month(),
            at.day(),
            WEEKDAYS_JA[at.weekday().num_days_from_monday() as usize],
            at.format("%H:%M")
        ),
        Locale::En => at.format("%a %-d %b %Y %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_japanese_and_english() {
        assert_eq!(Locale::from_accept_language("en-US,en;q=0.9"), Locale::En);
        assert_eq!(Locale::from_accept_language("ja,en;q=0.8"), Locale::Ja);
        assert_eq!(
            Locale::from_accept_language("en;q=0.5,ja;q=0.9"),
            Locale::Ja
        );
        assert_eq!(Locale::from_accept_language("fr-FR"), Locale::Ja);
        assert_eq!(Locale::from_accept_language(""), Locale::Ja);
    }

    #[test]
    fn both_catalogs_have_the_same_keys() {
        let (ja, en) = catalogs();
        assert!(!ja.is_empty());
        let mut ja_keys: Vec<_> = ja.keys().collect();
        let mut en_keys: Vec<_> = en.keys().collect();
        ja_keys.sort();
        en_keys.sort();
        assert_eq!(ja_keys, en_keys);
    }

    #[test]
    fn times_read_naturally_in_each_language() {
        let at = chrono::DateTime::parse_from_rfc3339("2025-04-01T09:00:00+09:00").expect("time");
        assert_eq!(format_datetime(Locale::Ja, &at), "2025年4月1日(火) 09:00");
        assert_eq!(format_datetime(Locale::En, &at), "Tue 1 Apr 2025 09:00");
    }

    #[test]
    fn placeholders_are_filled() {
        let text = t(
            Locale::En,
            "error.stale_version",
            &[("current", "4".into())],
        );
        assert!(text.contains("version 4"), "{text}");
    }
}
