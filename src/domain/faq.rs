//! FAQ articles (よくある質問): what an article holds, and how alike a draft
//! question and an article are, by the character bigrams they share (see
//! [`super::search`]).

use std::collections::HashSet;

use serde::Deserialize;
use utoipa::ToSchema;

use super::consultation::{TEXT_MAX_CHARS, TITLE_MAX_CHARS};
use super::inquiry::{Topic, QUESTION_MAX_CHARS};
use super::search::grams;
use super::validation::FieldErrors;

/// An article as it arrives (`POST`, and `PATCH` with `version`).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct FaqInput {
    /// `PATCH` only: the version the caller saw.
    pub version: Option<i32>,
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 20000)]
    pub question: Option<String>,
    #[schema(max_length = 10000)]
    pub answer: Option<String>,
    #[schema(value_type = Option<Topic>)]
    pub topic: Option<String>,
    /// `POST` only: the answered inquiry it is published from.
    pub source_inquiry_id: Option<i64>,
}

/// An article's fields, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaqFields {
    pub title: String,
    pub question: String,
    pub answer: String,
    pub topic: Topic,
}

impl FaqInput {
    /// Every field required (a new article, or a whole edit).
    pub fn parse(&self) -> Result<FaqFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = errors.required_text("title", self.title.as_deref(), TITLE_MAX_CHARS);
        let question =
            errors.required_text("question", self.question.as_deref(), QUESTION_MAX_CHARS);
        let answer = errors.required_text("answer", self.answer.as_deref(), TEXT_MAX_CHARS);
        let topic = match self.topic.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("topic", "validation.required");
                None
            }
            Some(t) => Topic::parse(t).or_else(|| {
                errors.add("topic", "validation.choice");
                None
            }),
        };
        errors.into_result()?;
        Ok(FaqFields {
            title: title.unwrap_or_default(),
            question: question.unwrap_or_default(),
            answer: answer.unwrap_or_default(),
            topic: topic.unwrap_or(Topic::Other),
        })
    }
}

/// The distinct bigrams of a text.
pub fn bigrams(text: &str) -> HashSet<String> {
    grams(text)
        .split(' ')
        .filter(|g| g.chars().count() == 2)
        .map(str::to_string)
        .collect()
}

/// How much of a draft an article's title and question cover: the share of the
/// draft's bigrams found in them, title hits counting double. 0 when the draft
/// has fewer than two bigrams in common with it (one shared bigram is chance).
pub fn likeness(draft: &HashSet<String>, title: &str, question: &str) -> f64 {
    if draft.is_empty() {
        return 0.0;
    }
    let in_title = bigrams(title);
    let in_question = bigrams(question);
    let mut shared = 0;
    let mut score = 0.0;
    for gram in draft {
        if in_title.contains(gram) {
            shared += 1;
            score += 2.0;
        } else if in_question.contains(gram) {
            shared += 1;
            score += 1.0;
        }
    }
    if shared < 2 {
        return 0.0;
    }
    score / (2.0 * draft.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_article_about_the_same_thing_is_alike_and_an_unrelated_one_is_not() {
        let draft = bigrams("ルックアップで値が取得できない");
        let alike = likeness(
            &draft,
            "ルックアップが更新されない",
            "取得ボタンを押しても値が古い",
        );
        let unrelated = likeness(&draft, "ライセンスの追加申請", "新しい職員のアカウント");
        assert!(alike > 0.3, "{alike}");
        assert_eq!(unrelated, 0.0);
        // Full- and half-width alike.
        assert!(likeness(&bigrams("ﾙｯｸｱｯﾌﾟ"), "ルックアップ", "") > 0.9);
    }

    #[test]
    fn one_shared_bigram_is_chance() {
        assert_eq!(likeness(&bigrams("申請書"), "電子申請の使い方", ""), 0.0);
        assert!(likeness(&bigrams("電子申請"), "電子申請の使い方", "") > 0.0);
    }

    #[test]
    fn an_article_needs_every_field() {
        let errors = FaqInput::default().parse().expect_err("empty");
        for field in ["title", "question", "answer", "topic"] {
            assert!(errors.contains(field), "{field}");
        }
    }
}
