//! Japanese-capable text search by character bigrams. Word-based full-text
//! indexes find nothing inside a Japanese sentence, and trigram indexes cannot
//! answer two-character words (申請, 給付, 会議). So text is normalised (NFKC,
//! lower case: full- and half-width alike, Latin case-insensitive), cut into runs
//! of letters and digits, and each run written as overlapping two-character
//! tokens; a query becomes, per run, the phrase of its consecutive bigrams, which
//! each database's own full-text index answers (FTS5 on SQLite, a GIN-indexed
//! `tsvector` on PostgreSQL), the way n-gram engines such as Groonga do.

use unicode_normalization::UnicodeNormalization;

/// NFKC and lower case: `ｱﾌﾟﾘ` → `アプリ`, `ＲＰＡ` → `rpa`.
pub fn normalize(text: &str) -> String {
    text.nfkc().collect::<String>().to_lowercase()
}

/// Runs of letters and digits; punctuation and spaces separate them.
fn runs(normalized: &str) -> Vec<Vec<char>> {
    normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|run| !run.is_empty())
        .map(|run| run.chars().collect())
        .collect()
}

/// The indexed form of a text: its bigrams separated by spaces (a one-character
/// run stands as itself).
pub fn grams(text: &str) -> String {
    let mut out = String::new();
    for run in runs(&normalize(text)) {
        if run.len() == 1 {
            push_token(&mut out, &run[0].to_string());
        }
        for pair in run.windows(2) {
            push_token(&mut out, &pair.iter().collect::<String>());
        }
    }
    out
}

fn push_token(out: &mut String, token: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(token);
}

/// A parsed query: all its parts must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Runs of two or more characters, each as its consecutive bigrams.
    pub phrases: Vec<Vec<String>>,
    /// Single characters, which no bigram can answer: found by scanning.
    pub singles: Vec<String>,
}

impl Query {
    /// `None` when the text has nothing to search for.
    pub fn parse(text: &str) -> Option<Query> {
        let mut query = Query {
            phrases: vec![],
            singles: vec![],
        };
        for run in runs(&normalize(text)) {
            if run.len() == 1 {
                query.singles.push(run[0].to_string());
            } else {
                query
                    .phrases
                    .push(run.windows(2).map(|p| p.iter().collect()).collect());
            }
        }
        (!query.phrases.is_empty() || !query.singles.is_empty()).then_some(query)
    }

    /// An FTS5 expression over the given columns: `{title body} : ("電子 子申 申請" AND "会議")`.
    pub fn fts5(&self, columns: &str) -> Option<String> {
        if self.phrases.is_empty() {
            return None;
        }
        let phrases: Vec<String> = self
            .phrases
            .iter()
            .map(|p| format!("\"{}\"", p.join(" ")))
            .collect();
        Some(format!("{{{columns}}} : ({})", phrases.join(" AND ")))
    }

    /// A PostgreSQL `tsquery`: `'電子' <-> '子申' <-> '申請' & '会議'`.
    pub fn tsquery(&self) -> Option<String> {
        if self.phrases.is_empty() {
            return None;
        }
        let phrases: Vec<String> = self
            .phrases
            .iter()
            .map(|p| {
                let terms: Vec<String> = p.iter().map(|g| format!("'{g}'")).collect();
                format!("({})", terms.join(" <-> "))
            })
            .collect();
        Some(phrases.join(" & "))
    }
}

/// The distinct bigrams of a draft worth looking up for similar consultations:
/// the title's first (they say what it is about), then the body's, at most `max`.
/// Each comes with whether it is in the title.
pub fn draft_terms(title: &str, body: &str, max: usize) -> Vec<(String, bool)> {
    let mut seen = std::collections::HashSet::new();
    let mut terms = vec![];
    for (text, in_title) in [(title, true), (body, false)] {
        for gram in grams(text).split(' ') {
            if terms.len() == max {
                return terms;
            }
            if gram.chars().count() == 2 && seen.insert(gram.to_string()) {
                terms.push((gram.to_string(), in_title));
            }
        }
    }
    terms
}

/// Ranks the consultations like a draft from each of its bigrams' postings
/// (newest first, at most a cap each). A bigram whose postings were cut at the cap
/// is common and says little, so it does not count; a rare one counts by how rare
/// it is (`ln(documents / postings)`), double when it is in the draft's title.
/// Only when every bigram is common do the common ones count, one each.
#[derive(Debug, Default)]
pub struct Similarity {
    rare: std::collections::HashMap<i64, f64>,
    common: std::collections::HashMap<i64, f64>,
}

impl Similarity {
    pub fn add(&mut self, postings: &[i64], cut: bool, documents: i64, in_title: bool) {
        let weight = if cut {
            1.0
        } else {
            (documents.max(1) as f64 / postings.len().max(1) as f64)
                .ln()
                .max(0.1)
                * if in_title { 2.0 } else { 1.0 }
        };
        let scores = if cut {
            &mut self.common
        } else {
            &mut self.rare
        };
        for id in postings {
            *scores.entry(*id).or_default() += weight;
        }
    }

    /// Candidates best first (newest first among equals).
    pub fn ranked(&self) -> Vec<(i64, f64)> {
        let scores = if self.rare.is_empty() {
            &self.common
        } else {
            &self.rare
        };
        let mut ranked: Vec<(i64, f64)> = scores.iter().map(|(id, s)| (*id, *s)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked
    }
}

/// A short excerpt around the first match of a query, split for highlighting:
/// (before, match, after), in normalised form.
pub fn snippet(text: &str, query: &Query, context: usize) -> Option<(String, String, String)> {
    let haystack: Vec<char> = normalize(text).chars().collect();
    let needles = query.phrases.iter().map(|p| {
        let mut word: String = p.iter().filter_map(|g| g.chars().next()).collect();
        word.extend(p.last().and_then(|g| g.chars().nth(1)));
        word
    });
    for needle in needles.chain(query.singles.iter().cloned()) {
        let needle: Vec<char> = needle.chars().collect();
        if let Some(start) = haystack
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
        {
            let end = start + needle.len();
            let from = start.saturating_sub(context);
            let to = (end + context).min(haystack.len());
            let mut before: String = haystack[from..start].iter().collect();
            if from > 0 {
                before.insert(0, '…');
            }
            let mut after: String = haystack[end..to].iter().collect();
            if to < haystack.len() {
                after.push('…');
            }
            return Some((before, haystack[start..end].iter().collect(), after));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_looks_up_its_title_bigrams_first_and_each_once() {
        let terms = draft_terms("電子申請", "申請の受付", 5);
        assert_eq!(
            terms,
            vec![
                ("電子".to_string(), true),
                ("子申".to_string(), true),
                ("申請".to_string(), true),
                ("請の".to_string(), false),
                ("の受".to_string(), false),
            ]
        );
    }

    #[test]
    fn rare_bigrams_rank_and_common_ones_count_only_when_nothing_else_does() {
        let mut s = Similarity::default();
        // "受付" is rare (2 of 1,000 documents), "申請" common (cut at the cap).
        s.add(&[10, 20], false, 1_000, false);
        s.add(&(1..=200).collect::<Vec<i64>>(), true, 1_000, true);
        s.add(&[20], false, 1_000, true);
        let ranked: Vec<i64> = s.ranked().iter().map(|(id, _)| *id).collect();
        assert_eq!(ranked, vec![20, 10]);
        let mut only_common = Similarity::default();
        only_common.add(&[3, 4], true, 1_000, false);
        only_common.add(&[4], true, 1_000, false);
        let ranked: Vec<i64> = only_common.ranked().iter().map(|(id, _)| *id).collect();
        assert_eq!(ranked, vec![4, 3]);
    }

    #[test]
    fn text_becomes_overlapping_bigrams_per_run() {
        assert_eq!(grams("電子申請、受付"), "電子 子申 申請 受付");
        assert_eq!(grams("RPA 化"), "rp pa 化");
    }

    #[test]
    fn full_and_half_width_forms_are_alike() {
        assert_eq!(grams("ｱﾌﾟﾘ"), grams("アプリ"));
        assert_eq!(grams("ＲＰＡ"), grams("rpa"));
        assert_eq!(normalize("Ｋｉｎｔｏｎｅ"), "kintone");
    }

    #[test]
    fn a_two_character_query_is_one_bigram_phrase() {
        let q = Query::parse("申請").expect("query");
        assert_eq!(q.phrases, vec![vec!["申請".to_string()]]);
        assert_eq!(
            q.fts5("title body").as_deref(),
            Some("{title body} : (\"申請\")")
        );
        assert_eq!(q.tsquery().as_deref(), Some("('申請')"));
    }

    #[test]
    fn longer_queries_are_phrases_of_consecutive_bigrams_and_words_combine() {
        let q = Query::parse("電子申請　会議").expect("query");
        assert_eq!(
            q.fts5("title").as_deref(),
            Some("{title} : (\"電子 子申 申請\" AND \"会議\")")
        );
        assert_eq!(
            q.tsquery().as_deref(),
            Some("('電子' <-> '子申' <-> '申請') & ('会議')")
        );
    }

    #[test]
    fn snippets_cut_around_the_first_match() {
        let q = Query::parse("申請").expect("query");
        let (before, hit, after) =
            snippet("紙の申請書を毎月300件手入力しています", &q, 3).expect("found");
        assert_eq!(
            (before.as_str(), hit.as_str(), after.as_str()),
            ("紙の", "申請", "書を毎…")
        );
        assert_eq!(snippet("関係のない本文", &q, 3), None);
    }

    #[test]
    fn single_characters_and_punctuation() {
        let q = Query::parse("申").expect("query");
        assert!(q.phrases.is_empty());
        assert_eq!(q.singles, vec!["申"]);
        assert_eq!(Query::parse("、。 !"), None);
    }
}
