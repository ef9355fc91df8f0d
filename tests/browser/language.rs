//! The language switch: Japanese by default, English on request, and it sticks.

use crate::harness::{browser_test, Browser};

async fn lang(b: &Browser) -> String {
    b.attr("html", "lang").await.unwrap_or_default()
}

/// Whether a text has Japanese kana in it (names of people are kanji only).
fn has_kana(text: &str) -> bool {
    text.chars().any(|c| ('\u{3041}'..='\u{30ff}').contains(&c))
}

#[test]
fn the_pages_are_japanese_by_default_and_english_after_switching_even_after_reload() {
    browser_test("language_switch", async |ctx| {
        let b = ctx.browser().await;
        b.goto("/login").await;
        assert_eq!(lang(&b).await, "ja", "html[lang] of the login page");
        b.login_as(&ctx.app.org.requester).await;
        assert_eq!(lang(&b).await, "ja", "html[lang] after login");
        let japanese = b.text("body").await;
        let japanese_nav = b.text("nav#main-nav").await;

        b.click_and_wait("form#language-form button[name=locale][value=en]")
            .await;
        assert_eq!(lang(&b).await, "en", "html[lang] after choosing English");
        let english = b.text("body").await;
        let english_nav = b.text("nav#main-nav").await;
        assert_ne!(japanese_nav, english_nav, "nav#main-nav did not change");
        assert!(
            has_kana(&japanese) && !has_kana(&english),
            "the page should turn from Japanese to English:\n--- ja\n{japanese}\n--- en\n{english}"
        );

        b.reload().await;
        assert_eq!(lang(&b).await, "en", "html[lang] after a reload");
        b.goto("/consultations/new").await;
        assert_eq!(lang(&b).await, "en", "html[lang] on another page");

        b.click_and_wait("form#language-form button[name=locale][value=ja]")
            .await;
        assert_eq!(lang(&b).await, "ja", "html[lang] after choosing Japanese");
    });
}
