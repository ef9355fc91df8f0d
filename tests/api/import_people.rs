//! The April reorganisation: `digicon import departments|users`, the API and the
//! admin pages' upload, against a running server whose callers must see the new
//! tree at once.

use serde_json::{json, Value};

use crate::both_backends;
use crate::cli::digicon;
use crate::helpers::{TestApp, PASSWORD};
use crate::session::Session;

const MOVE_AND_MERGE: &str = "action,code,name,kind,parent,merge_into,email\n\
    create,KOSODATE,子育て支援係,section,HOIKU,,\n\
    move,HOIKU,,,KODOMO,,\n\
    merge,JUKI,,,,KOSODATE,\n";

const NEWCOMER: &str = "action,email,name,role,department,locale\n\
    create,newcomer@city.test,新人,requester,KOSODATE,en\n";

/// Runs the command line on the app's database with a file of these bytes.
fn import(app: &TestApp, what: &str, bytes: &[u8], dry_run: bool) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{what}.csv"));
    std::fs::write(&path, bytes).expect("write the file");
    let path = path.to_string_lossy().to_string();
    let mut args = vec!["import", what, path.as_str()];
    if dry_run {
        args.push("--dry-run");
    }
    let out = digicon(&app.database_url, dir.path(), &args, "");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Every rollup row that counts something.
fn rollups(app: &TestApp) -> Vec<(i32, i64, String, String, i64, i64)> {
    use diesel::prelude::*;
    use digicon::db::schema::consultation_stats as s;
    let mut conn = app.pool.get().expect("connection");
    s::table
        .filter(s::n.ne(0).or(s::total.ne(0)))
        .order((s::fiscal_year, s::division_id, s::measure, s::key))
        .select((
            s::fiscal_year,
            s::division_id,
            s::measure,
            s::key,
            s::n,
            s::total,
        ))
        .load(&mut *conn)
        .expect("rollups")
}

/// Everything an import could change, as the admin reads it.
fn world(app: &TestApp) -> String {
    let admin = app.login(&app.org.admin);
    [
        "/api/v1/departments",
        "/api/v1/users?limit=200",
        "/api/v1/consultations?limit=200",
    ]
    .iter()
    .map(|path| app.get(path, &admin).body.to_string())
    .collect::<Vec<_>>()
    .join("\n")
}

fn department(app: &TestApp, code: &str) -> Value {
    let admin = app.login(&app.org.admin);
    let all = app.get("/api/v1/departments", &admin).body;
    all["items"]
        .as_array()
        .and_then(|items| items.iter().find(|d| d["code"] == code))
        .cloned()
        .unwrap_or_else(|| panic!("department {code} in {all}"))
}

fn department_id(app: &TestApp, code: &str) -> Value {
    department(app, code)["id"].clone()
}

fn file_in(app: &TestApp, token: &str, title: &str, department: i64) -> Value {
    let reply = app.post(
        "/api/v1/consultations",
        token,
        json!({"title": title, "body": "紙で受け付けています。", "category": "rpa",
               "department_id": department}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

/// A new bureau こども未来局 with a manager who can sign in.
fn kodomo_bureau_with_a_manager(app: &TestApp) -> String {
    let admin = app.login(&app.org.admin);
    let bureau = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "KODOMO", "name": "こども未来局", "kind": "bureau"}),
    );
    assert_eq!(bureau.status, 201, "{:?}", bureau.body);
    let manager = app.post(
        "/api/v1/users",
        &admin,
        json!({"email": "kodomo-mgr@city.test", "name": "木村", "role": "manager",
               "department_id": bureau.body["id"], "password": PASSWORD}),
    );
    assert_eq!(manager.status, 201, "{:?}", manager.body);
    app.login(&crate::helpers::User {
        id: 0,
        email: "kodomo-mgr@city.test".into(),
    })
}

fn status(app: &TestApp, token: &str, c: &Value) -> u16 {
    app.get(&format!("/api/v1/consultations/{}", c["id"]), token)
        .status
}

/// 戸籍係 under 市民課, a requester there, and their consultation.
fn section_with_a_consultation(app: &TestApp) -> Value {
    let admin = app.login(&app.org.admin);
    let section = app.post(
        "/api/v1/departments",
        &admin,
        json!({"code": "KOSEKI", "name": "戸籍係", "parent_id": app.org.shimin_division}),
    );
    assert_eq!(section.status, 201, "{:?}", section.body);
    let clerk = app.post(
        "/api/v1/users",
        &admin,
        json!({"email": "koseki@city.test", "name": "小川", "role": "requester",
               "department_id": section.body["id"], "password": PASSWORD}),
    );
    assert_eq!(clerk.status, 201, "{:?}", clerk.body);
    let token = app.login(&crate::helpers::User {
        id: 0,
        email: "koseki@city.test".into(),
    });
    file_in(
        app,
        &token,
        "戸籍謄本の請求受付",
        section.body["id"].as_i64().expect("id"),
    )
}

fn filed(app: &TestApp, token: &str) -> Value {
    let dashboard = app.get("/api/v1/dashboard", token);
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);
    dashboard.body["filed"].clone()
}

fn a_move_a_merge_and_a_transfer_take_effect_at_once_and_a_second_run_changes_nothing(
    app: &TestApp,
) {
    let org = &app.org;
    let kodomo = kodomo_bureau_with_a_manager(app);
    let (requester, outsider, se, dx) = (
        app.login(&org.requester),
        app.login(&org.outsider),
        app.login(&org.se),
        app.login(&org.dx),
    );
    let (watanabe, colleague) = (app.login(&org.manager), app.login(&org.colleague));
    // In 住民記録係: one open and assigned, one closed; in 保育課 one open.
    let open = file_in(app, &requester, "住民票の郵送請求", org.shimin_section);
    let open = app.must_fire(
        &dx,
        &open,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "定型のため"}),
    );
    let closed = file_in(app, &requester, "転入届の事前入力", org.shimin_section);
    let closed = app.must_fire(
        &dx,
        &closed,
        "assign",
        json!({"assignee_id": org.se.id, "reason": "定型のため"}),
    );
    let closed = app.must_fire(
        &se,
        &closed,
        "resolve",
        json!({"resolution": "フォームを作りました"}),
    );
    let closed = app.must_fire(&requester, &closed, "close", json!({"rating": 4}));
    let hoiku = app.file(&outsider, "保育園入園申請の電子化");
    // A section of 市民課, 戸籍係, with a consultation of its own: it moves to 保育課.
    let koseki = section_with_a_consultation(app);
    let closed_history = app.timeline(&dx, &closed["id"]);
    assert_eq!(
        status(app, &kodomo, &hoiku),
        404,
        "not yet under こども未来局"
    );
    assert_eq!(status(app, &watanabe, &hoiku), 200);
    assert_eq!(status(app, &kodomo, &koseki), 404);
    assert_eq!(status(app, &watanabe, &koseki), 200);
    assert_eq!(filed(app, &watanabe), json!(4));

    // The April reorganisation in one file: units created, moved and merged,
    // and the people who move with them.
    let april =
        format!("{MOVE_AND_MERGE}move,KOSEKI,,,HOIKU,,\ntransfer,HOIKU,,,,,yamada@city.test\n");
    let (code, out, err) = import(app, "departments", april.as_bytes(), false);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("applied 5 change(s) to departments"), "{out}");
    // Shift_JIS, as Excel in Japan saves it.
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(NEWCOMER);
    let (code, out, err) = import(app, "users", &sjis, false);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("applied 1 change(s) to users"), "{out}");

    // The moved division: its new bureau's manager sees it, the old one's does not,
    // with the tokens they had before, on the server that kept running.
    assert_eq!(status(app, &kodomo, &hoiku), 200);
    assert_eq!(status(app, &watanabe, &hoiku), 404);
    // The moved section likewise, and 保育課's manager now covers it.
    assert_eq!(status(app, &kodomo, &koseki), 200);
    assert_eq!(status(app, &app.login(&org.other_manager), &koseki), 200);
    assert_eq!(status(app, &watanabe, &koseki), 404);
    // The merged section's open consultation went to the survivor, where its
    // requester, its assignee and the survivor's managers reach it.
    let kosodate = department_id(app, "KOSODATE");
    assert_eq!(app.current(&open["id"])["department_id"], kosodate);
    // Its timeline records the move (by the command line: no actor).
    let moved = app.timeline(&dx, &open["id"]);
    let last = moved.last().expect("events");
    assert_eq!(last["event"], "update", "{moved:?}");
    assert_eq!(last["actor_id"], Value::Null);
    assert_eq!(
        last["payload"]["changes"]["department_id"],
        json!([org.shimin_section, kosodate])
    );
    assert_eq!(last["payload"]["reason"], "JUKI → KOSODATE");
    let mut page = Session::new(app);
    page.login(&org.requester.email);
    let shown = page.get(&format!("/consultations/{}", open["id"]));
    assert_eq!(shown.status, 200);
    assert!(
        shown.body.contains("JUKI → KOSODATE"),
        "the move in the page's timeline"
    );
    for (who, token) in [
        ("requester", &requester),
        ("assignee", &se),
        ("new bureau's manager", &kodomo),
    ] {
        assert_eq!(status(app, token, &open), 200, "{who}");
    }
    let comment = app.post(
        &format!("/api/v1/consultations/{}/comments", open["id"]),
        &requester,
        json!({"body": "異動後も続けてお願いします"}),
    );
    assert_eq!(comment.status, 201, "{:?}", comment.body);
    assert_eq!(status(app, &watanabe, &open), 404);
    // The closed one keeps its department and history, seen through the old tree.
    assert_eq!(
        app.current(&closed["id"])["department_id"],
        org.shimin_section
    );
    assert_eq!(app.timeline(&dx, &closed["id"]), closed_history);
    assert_eq!(status(app, &watanabe, &closed), 200);
    assert_eq!(
        status(app, &colleague, &closed),
        404,
        "yamada moved to 保育課"
    );
    assert_eq!(status(app, &colleague, &hoiku), 200);
    // The rollups of the divisions concerned were recounted: they are what a
    // recount of everything gives.
    let recounted = rollups(app);
    {
        let mut conn = app.pool.get().expect("connection");
        digicon::db::stats::rebuild(&mut conn, &chrono_tz::Asia::Tokyo).expect("rebuild");
    }
    assert_eq!(recounted, rollups(app));
    // The dashboards count by the new tree.
    assert_eq!(filed(app, &kodomo), json!(3));
    assert_eq!(filed(app, &watanabe), json!(1));
    assert_eq!(department(app, "JUKI")["active"], false);
    let me = app.get("/api/v1/me", &requester).body;
    assert_eq!(me["department"]["code"], "KOSODATE");
    // An imported account has no password to sign in with.
    let login = app.send(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"email": "newcomer@city.test", "password": "!no-password"}).to_string()),
        &[],
    );
    assert_eq!(login.status, 401);

    let before = world(app);
    let (code, out, _) = import(app, "departments", april.as_bytes(), false);
    assert_eq!(code, 0);
    assert!(
        out.contains("applied 0 change(s) to departments; 5 row(s) already so"),
        "{out}"
    );
    let (code, out, _) = import(app, "users", NEWCOMER.as_bytes(), false);
    assert_eq!(code, 0);
    assert!(
        out.contains("applied 0 change(s) to users; 1 row(s) already so"),
        "{out}"
    );
    assert_eq!(world(app), before);
}

fn merging_a_division_moves_its_open_inquiries_and_live_systems_with_it(app: &TestApp) {
    let org = &app.org;
    let (outsider, se, dx) = (
        app.login(&org.outsider),
        app.login(&org.se),
        app.login(&org.dx),
    );
    let ask = |subject: &str| {
        let reply = app.post(
            "/api/v1/inquiries",
            &outsider,
            json!({"subject": subject, "question": "教えてください", "topic": "how_to"}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    };
    let open = ask("一覧の並べ替え");
    let system = app.post(
        "/api/v1/systems",
        &dx,
        json!({"name": "保育園入園管理", "platform": "rpa",
               "department_id": org.hoiku_division, "owner_id": org.outsider.id}),
    );
    assert_eq!(system.status, 201, "{:?}", system.body);
    let file = "action,code,merge_into\nmerge,HOIKU,SHIMINKA\n";
    let (code, out, err) = import(app, "departments", file.as_bytes(), false);
    assert_eq!(code, 0, "{out}\n{err}");
    let recounted = rollups(app);
    {
        let mut conn = app.pool.get().expect("connection");
        digicon::db::stats::rebuild(&mut conn, &chrono_tz::Asia::Tokyo).expect("rebuild");
    }
    assert_eq!(
        recounted,
        rollups(app),
        "the merged division's inquiries moved"
    );

    let path = format!("/api/v1/inquiries/{}", open["id"]);
    let moved = app.get(&path, &outsider);
    assert_eq!(
        moved.status, 200,
        "the asker, now in 市民課, still reaches it"
    );
    assert_eq!(moved.body["department_id"], org.shimin_division);
    let events = app.get(&format!("{path}/events"), &se).body;
    let last = events["items"].as_array().and_then(|e| e.last()).cloned();
    assert_eq!(
        last.map(|e| e["payload"]["changes"]["department_id"].clone()),
        Some(json!([org.hoiku_division, org.shimin_division])),
        "{events}"
    );
    let mut page = Session::new(app);
    page.login(&org.outsider.email);
    let shown = page.get(&format!("/inquiries/{}", open["id"]));
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("HOIKU → SHIMINKA"), "{}", shown.body);
    let system = app.get(&format!("/api/v1/systems/{}", system.body["id"]), &dx);
    assert_eq!(system.body["department_id"], org.shimin_division);
}

fn a_dry_run_lists_every_problem_with_its_line_and_changes_nothing(app: &TestApp) {
    let before = world(app);
    let departments = "action,code,name,kind,parent,merge_into\n\
        create,KANKYO,環境局,,,\n\
        create,GOMI,ごみ減量課,,NOPE,\n\
        move,SHIMIN,,,JUKI,\n\
        merge,HOIKU,,,,HOIKU\n\
        deactivate,SHIMINKA,,,,\n\
        update,DX,,castle,,\n";
    let (code, out, err) = import(app, "departments", departments.as_bytes(), true);
    assert_eq!(code, 2, "{out}\n{err}");
    for line in [
        "line 3, parent: no such department",
        "line 4, parent: lies below the department being moved (a cycle)",
        "line 5, merge_into: cannot be the department itself",
        "line 6, code: still has active users",
        "line 6, code: still has active units below it",
        "line 7, kind: is not one of the allowed values",
    ] {
        assert!(err.contains(line), "{line} in:\n{err}");
    }
    assert!(err.contains("6 problem(s)"), "{err}");
    let users = "action,email,name,role,department,locale\n\
        create,new@city.test,新人,boss,SHIMINKA,fr\n\
        create,tanaka@city.test,別人,requester,SHIMINKA,\n\
        transfer,nobody@city.test,,,SHIMINKA,\n";
    let (code, _, err) = import(app, "users", users.as_bytes(), true);
    assert_eq!(code, 2, "{err}");
    for line in [
        "line 2, role: is not a role",
        "line 2, locale: must be ja or en",
        "line 3, email: is already taken by a different user",
        "line 4, email: belongs to no user",
    ] {
        assert!(err.contains(line), "{line} in:\n{err}");
    }
    // A clean dry run says what it would do, and does not.
    let (code, out, _) = import(
        app,
        "departments",
        MOVE_AND_MERGE.replace("KODOMO", "SOMU").as_bytes(),
        true,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dry run: would apply 3 change(s)"), "{out}");
    assert!(out.contains("line 3: move HOIKU parent=SOMU"), "{out}");
    assert_eq!(world(app), before);
}

fn a_real_run_with_one_bad_row_changes_nothing(app: &TestApp) {
    let before = world(app);
    let file = format!("{MOVE_AND_MERGE}create,BAD CODE,空白入り,,,\n").replace("KODOMO", "SOMU");
    let (code, out, err) = import(app, "departments", file.as_bytes(), false);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("line 5, code"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    let users = format!("{NEWCOMER}deactivate,ghost@city.test,,,,\n").replace("KOSODATE", "HOIKU");
    let (code, _, err) = import(app, "users", users.as_bytes(), false);
    assert_eq!(code, 2, "{err}");
    assert_eq!(world(app), before);
}

fn shift_jis_and_bom_files_are_read_through_the_api(app: &TestApp) {
    let admin = app.login(&app.org.admin);
    let text = "action,email,name,role,department,locale\n\
        create,suzuki.hanako@city.test,鈴木花子,requester,HOIKU,\n\
        update,ito@city.test,伊藤髙雄,,,en\n";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    let post = |bytes: &[u8], query: &str| post_csv(app, &admin, "users", query, bytes);
    let (status, preview) = post(&sjis, "?dry_run=true");
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["changes"][0]["fields"]["name"], "鈴木花子");
    let (status, applied) = post(&sjis, "");
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["applied"], true);
    let users = app.get("/api/v1/users?limit=200", &admin).body.to_string();
    assert!(
        users.contains("鈴木花子") && users.contains("伊藤髙雄"),
        "{users}"
    );
    // The same rows with a BOM: already so.
    let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    let (status, again) = post(&bom, "");
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["unchanged"], 2);
    assert_eq!(again["changes"], json!([]));
    // Problems: 422 with each line, and nothing changed.
    let before = world(app);
    let (status, bad) = post(b"action,email\nfly,ito@city.test\n", "");
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["problems"][0]["line"], 2);
    assert_eq!(bad["problems"][0]["field"], "action");
    assert_eq!(world(app), before);
    // Only admins import.
    for user in [&app.org.dx, &app.org.manager, &app.org.requester] {
        let token = app.login(user);
        let (status, _) = post_csv(
            app,
            &token,
            "departments",
            "",
            b"action,code,name\ncreate,X,x\n",
        );
        assert_eq!(status, 403, "{}", user.email);
    }
    assert_eq!(world(app), before);
}

/// Posts a file's bytes as they are (a `&str` body could not hold Shift_JIS).
fn post_csv(app: &TestApp, token: &str, what: &str, query: &str, bytes: &[u8]) -> (u16, Value) {
    let result = ureq::post(&format!("{}/api/v1/admin/import/{what}{query}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "text/csv")
        .send_bytes(bytes);
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A multipart body with a `_csrf` field and a `file`.
fn multipart(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----digicon-import-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"reorg.csv\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

fn the_admin_page_previews_an_upload_and_applies_it_on_confirmation(app: &TestApp) {
    let mut session = Session::new(app);
    session.login(&app.org.admin.email);
    let page = session.get("/admin/departments");
    assert!(
        page.body.contains("id=\"import-departments\""),
        "the upload form"
    );
    let csrf = session.csrf();
    let file = "action,code,name,kind,parent,merge_into\n\
        create,KANKYO,環境局,bureau,,\n\
        move,HOIKU,,,KANKYO,\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(file);
    let cookie = session
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let upload = |csrf: &str, bytes: &[u8]| {
        let (content_type, body) = multipart(csrf, bytes);
        let result = ureq::post(&format!("{}/admin/departments/import", app.base))
            .set("Cookie", &cookie)
            .set("Content-Type", &content_type)
            .send_bytes(&body);
        match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                (r.status(), r.into_string().unwrap_or_default())
            }
            Err(e) => panic!("{e}"),
        }
    };
    let before = world(app);
    let (status, _) = upload("not the token", &sjis);
    assert_eq!(status, 403, "CSRF");
    let (status, preview) = upload(&csrf, &sjis);
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains("id=\"import-changes\""), "{preview}");
    assert!(
        preview.contains("環境局") && preview.contains("KANKYO"),
        "{preview}"
    );
    assert_eq!(world(app), before, "a preview changes nothing");
    let content = preview
        .split("<textarea name=\"content\" hidden>")
        .nth(1)
        .and_then(|rest| rest.split("</textarea>").next())
        .map(unescape)
        .expect("the confirm form carries the file");

    // A problem in the file: listed by line, no confirm button.
    let (status, bad) = upload(
        &csrf,
        b"action,code,name,kind,parent,merge_into\nmove,HOIKU,,,NOPE,\n",
    );
    assert_eq!(status, 422, "{bad}");
    assert!(
        bad.contains("id=\"import-problems\"") && bad.contains("<td>2</td><td>parent</td>"),
        "{bad}"
    );
    assert!(!bad.contains("import-apply"), "{bad}");

    // Confirming re-plans the text and applies it.
    let refused = session.post(
        "/admin/departments/import",
        &[("apply", "true"), ("content", &content)],
    );
    assert_eq!(refused.status, 403, "confirm without the token");
    assert_eq!(world(app), before);
    let applied = session.post(
        "/admin/departments/import",
        &[("_csrf", &csrf), ("apply", "true"), ("content", &content)],
    );
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert!(
        applied.body.contains("id=\"import-applied\""),
        "{}",
        applied.body
    );
    assert_eq!(
        department(app, "HOIKU")["parent_id"],
        department_id(app, "KANKYO")
    );

    // Users too; and nobody but an admin.
    let page = session.get("/admin/users");
    assert!(page.body.contains("id=\"import-users\""), "the upload form");
    let users = session.post(
        "/admin/users/import",
        &[
            ("_csrf", &csrf),
            (
                "content",
                "action,email,name,role,department\ncreate,a@city.test,阿部,requester,HOIKU\n",
            ),
        ],
    );
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains("a@city.test"));
    let mut requester = Session::new(app);
    requester.login(&app.org.requester.email);
    let their_csrf = requester.csrf();
    for path in ["/admin/departments/import", "/admin/users/import"] {
        let page = requester.post(
            path,
            &[
                ("_csrf", &their_csrf),
                ("apply", "true"),
                ("content", &content),
            ],
        );
        assert_eq!(page.status, 403, "{path}");
    }
}

both_backends!(
    a_move_a_merge_and_a_transfer_take_effect_at_once_and_a_second_run_changes_nothing,
    merging_a_division_moves_its_open_inquiries_and_live_systems_with_it,
    a_dry_run_lists_every_problem_with_its_line_and_changes_nothing,
    a_real_run_with_one_bad_row_changes_nothing,
    shift_jis_and_bom_files_are_read_through_the_api,
    the_admin_page_previews_an_upload_and_applies_it_on_confirmation,
);
