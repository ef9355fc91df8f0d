//! The queue: tabs and filters show the right rows.

use serde_json::{json, Value};

use crate::harness::{browser_test, sorted, Browser};
use crate::helpers::TestApp;

fn file(app: &TestApp, token: &str, title: &str, category: &str) -> Value {
    let reply = app.post(
        "/api/v1/consultations",
        token,
        json!({
            "title": title,
            "body": "紙とFAXでやりとりしています。",
            "category": category,
        }),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn number(consultation: &Value) -> String {
    consultation["number"]
        .as_str()
        .expect("a number")
        .to_string()
}

async fn rows(b: &Browser) -> Vec<String> {
    b.wait_for("table#consultations, #no-results, h1#error-title")
        .await;
    if b.exists("h1#error-title").await {
        panic!(
            "an error page instead of the list at {}: {:?}",
            b.path().await,
            b.text("main, body").await
        );
    }
    let mut rows = b
        .attrs("table#consultations tr[data-number]", "data-number")
        .await;
    rows.sort();
    rows
}

async fn open_tab(b: &Browser, view: &str) {
    b.click_and_wait(&format!("nav#queue-tabs a[data-view={view}]"))
        .await;
    let current = b
        .attrs("nav#queue-tabs a[aria-current=page]", "data-view")
        .await;
    assert_eq!(current, vec![view.to_string()], "the current tab");
}

async fn filter(b: &Browser, filters: &[(&str, &str)]) {
    for (name, value) in filters {
        b.select(&format!("form#filters select[name={name}]"), value)
            .await;
    }
    b.click_and_wait("form#filters button#apply-filters").await;
}

fn assert_has(rows: &[String], has: &[&String], lacks: &[&String], what: &str) {
    for n in has {
        assert!(rows.contains(n), "{what} should list {n}: {rows:?}");
    }
    for n in lacks {
        assert!(!rows.contains(n), "{what} should not list {n}: {rows:?}");
    }
}

/// The numbers of four consultations in different states and categories.
struct Queue {
    /// Unassigned, received, e-application.
    a: String,
    /// Assigned to the SE (鈴木), RPA.
    b: String,
    /// Assigned to the SE and waiting on the requester, e-application.
    c: String,
    /// Assigned to another SE (高橋), low-code app.
    d: String,
}

/// Files and moves the four consultations through the API.
fn seed(app: &TestApp) -> Queue {
    let org = &app.org;
    let requester = app.login(&org.requester);
    let dx = app.login(&org.dx);
    let se = app.login(&org.se);
    let assign = |c: &Value, to: i64| {
        app.must_fire(
            &dx,
            c,
            "assign",
            json!({ "assignee_id": to, "reason": "ヒアリング不要" }),
        )
    };
    let a = file(app, &requester, "申請書の電子化", "e_application");
    let b = assign(&file(app, &requester, "転記作業の自動化", "rpa"), org.se.id);
    let c = assign(
        &file(app, &requester, "届出のオンライン化", "e_application"),
        org.se.id,
    );
    let c = app.must_fire(
        &se,
        &c,
        "request_info",
        json!({ "message": "様式を送ってください" }),
    );
    let d = assign(
        &file(app, &requester, "台帳のアプリ化", "low_code_app"),
        org.se2.id,
    );
    Queue {
        a: number(&a),
        b: number(&b),
        c: number(&c),
        d: number(&d),
    }
}

#[test]
fn the_queue_tabs_show_the_right_consultations() {
    browser_test("queue_tabs", async |ctx| {
        let app = &ctx.app;
        let Queue { a, b: b_, c, d } = seed(app);
        let b = ctx.browser().await;
        b.login_as(&app.org.se).await;
        assert_eq!(b.path().await, "/consultations?view=mine");
        let mine = rows(&b).await;
        assert_has(&mine, &[&b_], &[&a, &d], "view=mine");
        b.screenshot("queue-helpdesk").await;

        open_tab(&b, "unassigned").await;
        assert_eq!(rows(&b).await, vec![a.clone()], "view=unassigned");

        open_tab(&b, "waiting").await;
        assert_eq!(rows(&b).await, vec![c.clone()], "view=waiting");

        open_tab(&b, "all").await;
        assert_eq!(
            rows(&b).await,
            sorted(&[a.as_str(), b_.as_str(), c.as_str(), d.as_str()]),
            "view=all"
        );
        for (n, state) in [
            (&a, "received"),
            (&b_, "assigned"),
            (&c, "waiting"),
            (&d, "assigned"),
        ] {
            let seen = b
                .attrs(
                    &format!("table#consultations tr[data-number=\"{n}\"]"),
                    "data-state",
                )
                .await;
            assert_eq!(seen, vec![state.to_string()], "data-state of {n}");
        }

        open_tab(&b, "mine").await;
        assert_has(&rows(&b).await, &[&b_], &[&a, &d], "view=mine again");
    });
}

#[test]
fn the_queue_filters_by_category_and_state() {
    browser_test("queue_filters", async |ctx| {
        let app = &ctx.app;
        let Queue { a, b: b_, c, d } = seed(app);
        let b = ctx.browser().await;
        b.login_as(&app.org.se).await;
        open_tab(&b, "all").await;

        filter(&b, &[("category", "rpa")]).await;
        assert_eq!(rows(&b).await, vec![b_.clone()], "category=rpa");
        filter(&b, &[("category", "rpa"), ("state", "waiting")]).await;
        assert_eq!(rows(&b).await, Vec::<String>::new(), "rpa and waiting");
        assert!(
            b.exists("#no-results").await,
            "no #no-results for an empty result"
        );
        filter(&b, &[("category", "e_application"), ("state", "waiting")]).await;
        assert_eq!(rows(&b).await, vec![c.clone()], "e_application and waiting");
        filter(&b, &[("category", "low_code_app"), ("state", "assigned")]).await;
        assert_eq!(rows(&b).await, vec![d.clone()], "low_code_app and assigned");
        filter(&b, &[("category", "e_application"), ("state", "received")]).await;
        assert_eq!(
            rows(&b).await,
            vec![a.clone()],
            "e_application and received"
        );
    });
}
