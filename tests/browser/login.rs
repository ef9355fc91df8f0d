//! Logging in: every role lands on its home page; a wrong password is refused.

use crate::harness::{browser_test, Browser};
use crate::helpers::User;

/// What every signed-in page carries: the navigation, the user's name, logout and
/// the language switch.
async fn assert_signed_in_page(b: &Browser, name: &str) {
    b.wait_for("nav#main-nav").await;
    let current = b.text("#current-user").await;
    assert!(
        current.contains(name),
        "#current-user should name {name}, shows {current:?}"
    );
    assert!(
        b.exists("form#logout-form button").await,
        "no button in form#logout-form"
    );
    for locale in ["ja", "en"] {
        let selector = format!("form#language-form button[name=locale][value={locale}]");
        assert!(b.exists(&selector).await, "no `{selector}`");
    }
}

async fn assert_current_tab(b: &Browser, view: &str) {
    let current = b
        .attrs("nav#queue-tabs a[aria-current=page]", "data-view")
        .await;
    assert_eq!(
        current,
        vec![view.to_string()],
        "the current tab of nav#queue-tabs"
    );
}

async fn log_in_and_land(b: &Browser, user: &User, name: &str, home: &str) {
    b.login_as(user).await;
    assert_eq!(b.path().await, home, "{} lands on", user.email);
    assert_signed_in_page(b, name).await;
}

#[test]
fn a_requester_logs_in_and_lands_on_the_consultations_of_their_division() {
    browser_test("requester_home", async |ctx| {
        let app = &ctx.app;
        let token = app.login(&app.org.requester);
        let ours = app.file(&token, "住民票の写しの交付申請を電子化したい");
        let theirs = app.file(
            &app.login(&app.org.outsider),
            "保育園の入所申込を電子化したい",
        );
        let b = ctx.browser().await;
        log_in_and_land(&b, &app.org.requester, "田中", "/consultations").await;
        assert!(
            b.exists("a#new-consultation").await,
            "no a#new-consultation"
        );
        assert!(
            !b.exists("nav#queue-tabs").await,
            "a requester sees nav#queue-tabs"
        );
        let rows = b
            .attrs("table#consultations tr[data-number]", "data-number")
            .await;
        let ours = ours["number"].as_str().expect("number").to_string();
        let theirs = theirs["number"].as_str().expect("number").to_string();
        assert!(rows.contains(&ours), "{ours} is not listed: {rows:?}");
        assert!(
            !rows.contains(&theirs),
            "another division's {theirs} is listed: {rows:?}"
        );
        b.screenshot("requester-list").await;
    });
}

#[test]
fn a_helpdesk_se_logs_in_and_lands_on_their_own_queue() {
    browser_test("helpdesk_home", async |ctx| {
        let b = ctx.browser().await;
        log_in_and_land(&b, &ctx.app.org.se, "鈴木", "/consultations?view=mine").await;
        assert_current_tab(&b, "mine").await;
    });
}

#[test]
fn a_dx_office_member_logs_in_and_lands_on_the_unassigned_queue() {
    browser_test("dx_home", async |ctx| {
        let b = ctx.browser().await;
        log_in_and_land(
            &b,
            &ctx.app.org.dx,
            "佐藤",
            "/consultations?view=unassigned",
        )
        .await;
        assert_current_tab(&b, "unassigned").await;
    });
}

#[test]
fn a_manager_logs_in_and_lands_on_the_consultations() {
    browser_test("manager_home", async |ctx| {
        let b = ctx.browser().await;
        log_in_and_land(&b, &ctx.app.org.manager, "渡辺", "/consultations").await;
        b.wait_for("table#consultations, #no-results").await;
    });
}

#[test]
fn an_admin_logs_in_and_lands_on_the_users() {
    browser_test("admin_home", async |ctx| {
        let app = &ctx.app;
        let b = ctx.browser().await;
        log_in_and_land(&b, &app.org.admin, "管理", "/admin/users").await;
        let emails = b.attrs("table#users tr[data-email]", "data-email").await;
        for user in [&app.org.requester, &app.org.se, &app.org.admin] {
            assert!(
                emails.contains(&user.email),
                "{} is not in table#users: {emails:?}",
                user.email
            );
        }
        for field in [
            "email",
            "name",
            "role",
            "department_id",
            "locale",
            "password",
        ] {
            let selector = format!("form#new-user [name={field}]");
            assert!(b.exists(&selector).await, "no `{selector}`");
        }
        assert!(b.exists("form#new-user button#create-user").await);
        assert!(b.exists("table#users form.toggle-active").await);
        b.screenshot("admin-users").await;
        // Deactivating takes a second, deliberate click, and is not offered on
        // the admin's own row; languages read as languages.
        let own = format!("table#users tr[data-email='{}']", ctx.app.org.admin.email);
        assert!(!b.exists(&format!("{own} form.toggle-active")).await);
        let other = format!("table#users tr[data-email='{}']", ctx.app.org.se2.email);
        assert!(b.text(&other).await.contains("日本語"));
        let confirm = format!("{other} details.confirm-deactivate form.toggle-active button");
        assert!(!b
            .find(&confirm)
            .await
            .is_displayed()
            .await
            .expect("displayed"));
        b.find(&format!("{other} details.confirm-deactivate summary"))
            .await
            .click()
            .await
            .expect("open");
        b.click_and_wait(&confirm).await;
        assert!(b.exists(&format!("{other}.inactive")).await, "deactivated");
    });
}

#[test]
fn a_wrong_password_shows_the_error_flash_on_the_login_form() {
    browser_test("wrong_password", async |ctx| {
        let b = ctx.browser().await;
        b.goto("/login").await;
        b.wait_for("form#login-form").await;
        b.screenshot("login").await;
        b.fill("input#email[name=email]", &ctx.app.org.requester.email)
            .await;
        b.fill("input#password[name=password]", "not the password")
            .await;
        b.click_and_wait("button#login-submit").await;
        b.wait_for(".flash[data-kind=error][role=alert]").await;
        assert!(
            b.exists("form#login-form").await,
            "the login form is not shown again"
        );
        assert!(
            !b.exists("#current-user").await,
            "signed in with a wrong password"
        );
        // The right password still works afterwards.
        b.login_as(&ctx.app.org.requester).await;
        assert_eq!(b.path().await, "/consultations");
    });
}
