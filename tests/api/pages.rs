//! The pages over plain HTTP: sessions, CSRF, visibility, escaping and headers.
//! (The click-through flows are in the browser tests.)

use crate::both_backends;
use crate::helpers::TestApp;
use crate::session::Session;

fn each_role_lands_on_its_own_home_page(app: &TestApp) {
    for (user, home) in [
        (&app.org.requester, "/consultations"),
        (&app.org.se, "/consultations?view=mine"),
        (&app.org.dx, "/consultations?view=unassigned"),
        (&app.org.manager, "/consultations"),
        (&app.org.admin, "/admin/users"),
    ] {
        let mut session = Session::new(app);
        let landed = session.login(&user.email);
        assert_eq!(landed.status, 303, "{}", user.email);
        assert_eq!(landed.location.as_deref(), Some(home), "{}", user.email);
        assert!(session.cookies.contains_key("digicon_session"));
        let page = session.get(home);
        assert_eq!(page.status, 200, "{home} for {}", user.email);
    }
    let mut session = Session::new(app);
    session.get("/login");
    let csrf = session.csrf();
    let wrong = session.post(
        "/login",
        &[
            ("_csrf", &csrf),
            ("email", &app.org.requester.email),
            ("password", "wrong"),
        ],
    );
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("data-kind=\"error\""),
        "a clear message on a wrong password"
    );
    assert!(!session.cookies.contains_key("digicon_session"));
}

fn a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(app: &TestApp) {
    let mut session = Session::new(app);
    session.login(&app.org.requester.email);
    let form = [
        ("title", "CSRF の確認"),
        ("current_work", "紙"),
        ("wish", "電子化"),
        ("category", "rpa"),
    ];
    let refused = session.post("/consultations", &form);
    assert_eq!(refused.status, 403);
    let forged = session.post(
        "/consultations",
        &[form.as_slice(), &[("_csrf", "not-the-token")]].concat(),
    );
    assert_eq!(forged.status, 403);
    let token = app.login(&app.org.admin);
    assert_eq!(
        app.get("/api/v1/consultations", &token).body["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let csrf = session.csrf();
    let filed = session.post(
        "/consultations",
        &[form.as_slice(), &[("_csrf", csrf.as_str())]].concat(),
    );
    assert_eq!(filed.status, 303);
    assert!(filed
        .location
        .unwrap_or_default()
        .starts_with("/consultations/"));
    assert_eq!(
        app.get("/api/v1/consultations", &token).body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

fn pages_follow_the_visibility_rules_of_the_api(app: &TestApp) {
    let token = app.login(&app.org.requester);
    let c = app.file(&token, "保育課には見えない相談");
    let mut outsider = Session::new(app);
    outsider.login(&app.org.outsider.email);
    let page = outsider.get(&format!("/consultations/{}", c["id"]));
    assert_eq!(page.status, 404);
    assert!(page.body.contains("id=\"error-title\""));
    assert!(!page.body.contains("保育課には見えない相談"));
    let list = outsider.get("/consultations");
    assert!(!list.body.contains("保育課には見えない相談"));
    let mut anonymous = Session::new(app);
    let redirected = anonymous.get(&format!("/consultations/{}", c["id"]));
    assert_eq!(redirected.status, 303);
    assert!(redirected
        .location
        .unwrap_or_default()
        .starts_with("/login?next="));
}

fn hostile_text_renders_inert_in_pages_and_mail(app: &TestApp) {
    let token = app.login(&app.org.requester);
    let title = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let c = app.file(&token, title);
    let comment = app.post(
        &format!("/api/v1/consultations/{}/comments", c["id"]),
        &token,
        serde_json::json!({"body": "<a href=\"javascript:alert(3)\">click</a>"}),
    );
    assert_eq!(comment.status, 201);
    let mut session = Session::new(app);
    session.login(&app.org.requester.email);
    for path in [
        "/consultations".to_string(),
        format!("/consultations/{}", c["id"]),
    ] {
        let page = session.get(&path);
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script>alert"), "{path}");
        assert!(!page.body.contains("<img src=x"), "{path}");
        assert!(!page.body.contains("href=\"javascript:"), "{path}");
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} shows the text"
        );
        let csp = page.csp.unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
    let mut conn = app.pool.get().expect("connection");
    use diesel::prelude::*;
    let bodies: Vec<String> = digicon::db::schema::outbox::table
        .select(digicon::db::schema::outbox::body_html)
        .load(&mut *conn)
        .expect("outbox");
    assert!(!bodies.is_empty());
    for html in bodies {
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x"),
            "mail HTML escapes the title"
        );
    }
}

fn the_language_follows_accept_language_then_the_users_choice(app: &TestApp) {
    let english = app.send(
        "GET",
        "/login",
        None,
        None,
        &[("Accept-Language", "en-US,en;q=0.9")],
    );
    assert!(english
        .body
        .as_str()
        .unwrap_or_default()
        .contains("<html lang=\"en\">"));
    let japanese = app.send("GET", "/login", None, None, &[]);
    assert!(japanese
        .body
        .as_str()
        .unwrap_or_default()
        .contains("<html lang=\"ja\">"));
    let mut session = Session::new(app);
    session.login(&app.org.requester.email);
    assert!(session
        .get("/consultations")
        .body
        .contains("<html lang=\"ja\">"));
    let csrf = session.csrf();
    let switched = session.post(
        "/settings/language",
        &[
            ("_csrf", &csrf),
            ("locale", "en"),
            ("next", "/consultations"),
        ],
    );
    assert_eq!(switched.status, 303);
    let page = session.get("/consultations");
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(
        page.body.contains("Your division's consultations")
            || page.body.contains("Your division&#x27;s consultations"),
        "English text"
    );
    let token = app.login(&app.org.requester);
    assert_eq!(
        app.get("/api/v1/me", &token).body["locale"],
        "en",
        "saved on the user"
    );
}

fn the_dx_office_withdraws_a_duplicate_in_one_step(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let original = app.file(&requester, "粗大ごみの受付をオンライン化したい");
    let duplicate = app.file(&requester, "粗大ごみ受付のオンライン化");
    let mut dx = Session::new(app);
    dx.login(&app.org.dx.email);
    let page = dx.get(&format!("/consultations/{}", duplicate["id"]));
    assert!(
        page.body.contains("id=\"similar-consultations\""),
        "similar consultations are listed"
    );
    assert!(page.body.contains("class=\"withdraw-duplicate\""));
    let csrf = dx.csrf();
    let original_id = original["id"].to_string();
    let done = dx.post(
        &format!("/consultations/{}/events", duplicate["id"]),
        &[
            ("_csrf", &csrf),
            ("event", "withdraw"),
            ("version", "1"),
            ("duplicate_of", &original_id),
            ("reason", "重複"),
        ],
    );
    assert_eq!(done.status, 303);
    let now = app.current(&duplicate["id"]);
    assert_eq!(now["state"], "withdrawn");
    assert_eq!(now["duplicate_of"], original["id"]);
}

fn searching_from_the_list_page_highlights_the_match(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let reply = app.post("/api/v1/consultations", &requester, serde_json::json!({"title": "集計作業", "body": "毎月の給付金の集計に三日かかる", "category": "rpa"}));
    assert_eq!(reply.status, 201);
    let mut session = Session::new(app);
    session.login(&app.org.requester.email);
    let page = session.get("/consultations?q=%E7%B5%A6%E4%BB%98");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<mark>給付</mark>"),
        "the match is highlighted"
    );
}

fn the_ledger_pages_warn_of_similar_systems_and_refuse_production_without_a_manual(app: &TestApp) {
    let dx = app.login(&app.org.dx);
    let existing = app.post(
        "/api/v1/systems",
        &dx,
        serde_json::json!({"name": "申請受付管理アプリ", "platform": "low_code_app", "department_id": app.org.hoiku_division,
                           "owner_id": app.org.outsider.id}),
    );
    assert_eq!(existing.status, 201, "{:?}", existing.body);
    let mut session = Session::new(app);
    session.login(&app.org.requester.email);
    assert_eq!(session.get("/systems/new").status, 200);
    let csrf = session.csrf();
    let form = [
        ("_csrf", csrf.as_str()),
        ("name", "申請受付管理システム"),
        ("platform", "low_code_app"),
        ("phase", "trial"),
        ("built_by", "in_house"),
        ("workflow_after", ""),
    ];
    let warned = session.post("/systems", &form);
    assert_eq!(warned.status, 200, "{}", warned.body);
    assert!(warned.body.contains("id=\"similar-systems\""));
    assert!(
        warned.body.contains("申請受付管理アプリ"),
        "{}",
        warned.body
    );
    assert!(warned.body.contains("name=\"confirm_different\""));
    let token = app.login(&app.org.requester);
    let count = |token: &str| {
        app.get("/api/v1/systems", token).body["items"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(count(&token), Some(0), "nothing saved before confirming");
    let saved = session.post(
        "/systems",
        &[form.as_slice(), &[("confirm_different", "true")]].concat(),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let location = saved.location.expect("location");
    assert_eq!(count(&token), Some(1));
    let id = location.trim_start_matches("/systems/").to_string();

    let page = session.get(&location);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("申請受付管理システム"));
    assert!(page.body.contains("data-event=\"register\""));
    assert_eq!(session.get(&format!("{location}/edit")).status, 200);
    let step = |session: &mut Session, version: &str, phase: &str, manual: &str| {
        let csrf = session.csrf();
        session.post(
            &location,
            &[
                ("_csrf", csrf.as_str()),
                ("version", version),
                ("name", "申請受付管理システム"),
                ("platform", "low_code_app"),
                ("phase", phase),
                ("built_by", "in_house"),
                ("manual_location", manual),
            ],
        )
    };
    assert_eq!(step(&mut session, "1", "verification", "").status, 303);
    let refused = step(&mut session, "2", "production", "");
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("data-error=\"invalid\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("操作マニュアル"), "{}", refused.body);
    assert_eq!(
        step(&mut session, "2", "production", "//fs/manual.pdf").status,
        303
    );
    let page = session.get(&location);
    assert!(page.body.contains("data-phase=\"production\""));
    assert!(
        page.body.contains("id=\"system-flags\""),
        "a production entry lacking fields is flagged"
    );
    let list = session.get("/systems?flagged=true");
    assert!(list.body.contains(&format!("data-id=\"{id}\"")));

    let effects = session.get("/systems/effects");
    assert_eq!(effects.status, 200, "{}", effects.body);
    assert!(effects.body.contains("id=\"effects-chart\""));
    // The in-house rate is over confirmed systems in operation: this requester's
    // entry awaits the DX office, so it is counted apart and the denominator is 0.
    assert!(
        effects
            .body
            .contains("0 / 0 件 (0%、分母は稼働中のシステム)")
            && effects.body.contains("id=\"effects-unconfirmed\""),
        "{}",
        effects.body
    );

    // The SE links the entry from the consultation page's resolve form.
    let c = app.file(&token, "申請受付の相談");
    let c = app.must_fire(
        &dx,
        &c,
        "assign",
        serde_json::json!({"assignee_id": app.org.se.id, "reason": "既知"}),
    );
    let mut se = Session::new(app);
    se.login(&app.org.se.email);
    let page = se.get(&format!("/consultations/{}", c["id"]));
    assert!(page.body.contains("name=\"system_id\""));
    let csrf = se.csrf();
    let version = c["version"].to_string();
    let resolved = se.post(
        &format!("/consultations/{}/events", c["id"]),
        &[
            ("_csrf", csrf.as_str()),
            ("event", "resolve"),
            ("version", version.as_str()),
            ("resolution", "既存の台帳システムを案内"),
            ("system_id", id.as_str()),
        ],
    );
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    let page = session.get(&format!("/consultations/{}", c["id"]));
    assert!(page.body.contains(&format!("href=\"/systems/{id}\"")));
    assert!(
        session.get(&location).body.contains("申請受付の相談"),
        "the entry lists it"
    );

    let mut outsider = Session::new(app);
    outsider.login(&app.org.outsider.email);
    assert_eq!(outsider.get(&location).status, 404);
    assert_eq!(outsider.get(&format!("{location}/edit")).status, 404);
    let mut manager = Session::new(app);
    manager.login(&app.org.other_manager.email);
    assert_eq!(manager.get("/systems/new").status, 403);
}

fn the_queue_filter_shows_a_department_as_soon_as_it_is_added_or_renamed(app: &TestApp) {
    let se = app.login(&app.org.se);
    let admin = app.login(&app.org.admin);
    let filter = |reply: &crate::helpers::Reply| {
        assert_eq!(reply.status, 200);
        let page = reply.body.as_str().expect("a page").to_string();
        let start = page.find("id=\"filter-department\"").expect("the filter");
        page[start..start + page[start..].find("</select>").expect("its end")].to_string()
    };
    // The first view keeps the department list in memory.
    assert!(!filter(&app.get("/consultations", &se)).contains("KANKYO"));

    let added = app.post(
        "/api/v1/departments",
        &admin,
        serde_json::json!({"code": "KANKYO", "name": "環境局"}),
    );
    assert_eq!(added.status, 201);
    assert!(filter(&app.get("/consultations", &se))
        .contains("<option value=\"KANKYO\">環境局</option>"));

    let renamed = app.patch(
        &format!("/api/v1/departments/{}", added.body["id"]),
        &admin,
        serde_json::json!({"name": "環境政策局"}),
    );
    assert_eq!(renamed.status, 200);
    let options = filter(&app.get("/consultations?department=KANKYO", &se));
    assert!(options.contains("<option value=\"KANKYO\" selected>環境政策局</option>"));
}

both_backends!(
    the_queue_filter_shows_a_department_as_soon_as_it_is_added_or_renamed,
    the_ledger_pages_warn_of_similar_systems_and_refuse_production_without_a_manual,
    the_dx_office_withdraws_a_duplicate_in_one_step,
    searching_from_the_list_page_highlights_the_match,
    each_role_lands_on_its_own_home_page,
    a_form_post_without_the_csrf_token_is_refused_and_changes_nothing,
    pages_follow_the_visibility_rules_of_the_api,
    hostile_text_renders_inert_in_pages_and_mail,
    the_language_follows_accept_language_then_the_users_choice,
);

#[test]
fn nothing_is_loaded_from_outside_hosts() {
    for dir in ["views", "assets"] {
        for entry in walk(std::path::Path::new(dir)) {
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            for needle in ["http://", "https://", "//cdn", "fonts.googleapis"] {
                assert!(
                    !text.contains(needle),
                    "{} refers to {needle}",
                    entry.display()
                );
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![];
    for entry in std::fs::read_dir(dir)
        .expect("folder")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
