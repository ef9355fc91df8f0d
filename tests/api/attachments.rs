//! Attachments through the API on both databases: upload by who may comment,
//! download by who may see the ticket (404 otherwise, internal files to staff),
//! the type decided by the content (a program named .xlsx is refused with 415),
//! the limits (413), names cleaned, and the bytes stored once per content.

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89,
];

fn xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .write_string(0, 0, "現行の様式")
        .expect("cell");
    book.save_to_buffer().expect("xlsx")
}

/// Posts files (name, bytes) as multipart; returns (status, JSON body).
fn upload(
    app: &TestApp,
    path: &str,
    token: &str,
    files: &[(&str, &[u8])],
    internal: bool,
) -> (u16, Value) {
    let boundary = "digicon-test-boundary-7f3a";
    let mut body = Vec::new();
    if internal {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"internal\"\r\n\r\ntrue\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let result = ureq::post(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_bytes(&body);
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn stored_files(app: &TestApp) -> usize {
    let root = app.settings.data_dir.join("files");
    std::fs::read_dir(&root)
        .map(|dirs| {
            dirs.flatten()
                .filter(|d| d.file_name() != "tmp")
                .map(|d| std::fs::read_dir(d.path()).map(|f| f.count()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn files_are_attached_and_downloaded_within_the_tickets_visibility(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let se = app.login(&app.org.se);
    let outsider = app.login(&app.org.outsider);
    let c = app.file(&requester, "様式を添付したい");
    let path = format!("/api/v1/consultations/{}/attachments", c["id"]);
    let book = xlsx();
    let (status, body) = upload(
        app,
        &path,
        &requester,
        &[("現行の様式.xlsx", &book), ("../../画面.png", PNG)],
        false,
    );
    assert_eq!(status, 201, "{body:?}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["name"], "現行の様式.xlsx");
    assert_eq!(
        items[0]["content_type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(items[1]["name"], "画面.png", "no path parts");
    assert_eq!(items[1]["content_type"], "image/png");
    let href = items[0]["href"].as_str().expect("href").to_string();

    // The same bytes again are stored once.
    let (status, _) = upload(app, &path, &se, &[("同じ画面.png", PNG)], false);
    assert_eq!(status, 201);
    assert_eq!(stored_files(app), 2, "one file per content");
    let list = app.get(&path, &requester);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(3));

    // Download: the ticket's visibility, as an attachment.
    let (ctype, bytes) = app.download(&href, &requester);
    assert_eq!(bytes, book);
    assert!(ctype.contains("spreadsheetml"), "{ctype}");
    let reply = app.get(&href, &requester);
    let disposition = reply
        .header("content-disposition")
        .unwrap_or_default()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E7%8F%BE"),
        "{disposition}"
    );
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(app.get(&href, &outsider).status, 404);
    assert_eq!(app.get(&path, &outsider).status, 404);
    let (status, _) = upload(app, &path, &outsider, &[("x.png", PNG)], false);
    assert_eq!(status, 404, "a ticket they cannot see");
    let manager = app.login(&app.org.manager);
    let (status, _) = upload(app, &path, &manager, &[("x.png", PNG)], false);
    assert_eq!(status, 403, "managers only read");

    // Internal files: staff only, as internal notes.
    let (status, body) = upload(
        app,
        &path,
        &se,
        &[("メモ.txt", "内部の確認事項".as_bytes())],
        true,
    );
    assert_eq!(status, 201, "{body:?}");
    let internal = body["items"][0]["href"].as_str().expect("href").to_string();
    assert_eq!(app.get(&internal, &requester).status, 404);
    assert_eq!(app.get(&internal, &se).status, 200);
    assert_eq!(
        app.get(&path, &requester).body["items"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let (status, _) = upload(app, &path, &requester, &[("x.txt", b"x")], true);
    assert_eq!(status, 403, "requesters write no internal files");

    // Inquiries carry files too.
    let inquiry = app.post(
        "/api/v1/inquiries",
        &requester,
        serde_json::json!({"subject": "エラー画面", "question": "この画面が出ます", "topic": "error"}),
    );
    let (status, body) = upload(
        app,
        &format!("/api/v1/inquiries/{}/attachments", inquiry.body["id"]),
        &requester,
        &[("error.png", PNG)],
        false,
    );
    assert_eq!(status, 201, "{body:?}");
    assert_eq!(body["items"][0]["inquiry_id"], inquiry.body["id"]);
}

fn files_that_are_not_what_they_say_or_too_large_are_refused_and_change_nothing(app: &TestApp) {
    let requester = app.login(&app.org.requester);
    let c = app.file(&requester, "不正なファイル");
    let path = format!("/api/v1/consultations/{}/attachments", c["id"]);
    let elf = [0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let (status, body) = upload(app, &path, &requester, &[("集計.xlsx", &elf)], false);
    assert_eq!(status, 415, "{body:?}");
    let (status, _) = upload(
        app,
        &path,
        &requester,
        &[("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00")],
        false,
    );
    assert_eq!(status, 415);
    let (status, _) = upload(app, &path, &requester, &[("画面.jpg", PNG)], false);
    assert_eq!(status, 415, "a PNG named .jpg");
    let (status, _) = upload(app, &path, &requester, &[], false);
    assert_eq!(status, 400, "a form without parts is malformed");
    assert_eq!(
        app.get(&path, &requester).body["items"],
        serde_json::json!([])
    );
    assert_eq!(stored_files(app), 0, "nothing kept");
}

both_backends!(
    files_are_attached_and_downloaded_within_the_tickets_visibility,
    files_that_are_not_what_they_say_or_too_large_are_refused_and_change_nothing,
    every_role_meets_the_attachment_routes_as_the_rules_say,
);

/// With limits of 1 MB a file and 2 MB a ticket (DIGICON_*_MAX_MB).
#[test]
fn the_limits_of_a_file_and_of_a_ticket_answer_413() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            s.attachments.file_bytes = 1024 * 1024;
            s.attachments.ticket_bytes = 2 * 1024 * 1024;
        }) else {
            continue;
        };
        let requester = app.login(&app.org.requester);
        let c = app.file(&requester, "大きなファイル");
        let path = format!("/api/v1/consultations/{}/attachments", c["id"]);
        let big = vec![b'a'; 1024 * 1024 + 1];
        let (status, body) = upload(&app, &path, &requester, &[("big.txt", &big)], false);
        assert_eq!(status, 413, "{body:?}");
        let part = vec![b'b'; 900 * 1024];
        let part2 = vec![b'c'; 900 * 1024];
        let part3 = vec![b'd'; 900 * 1024];
        for (n, bytes) in [&part, &part2].iter().enumerate() {
            let (status, body) = upload(
                &app,
                &path,
                &requester,
                &[(&format!("{n}.txt"), bytes)],
                false,
            );
            assert_eq!(status, 201, "{body:?}");
        }
        let (status, _) = upload(&app, &path, &requester, &[("3.txt", &part3)], false);
        assert_eq!(status, 413, "over the ticket's 2 MB");
        assert_eq!(
            app.get(&path, &requester).body["items"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(stored_files(&app), 2);
    }
}

/// Attachments in the role × endpoint × division matrix: upload, list and
/// download on a consultation of each division, for every fixture user.
fn every_role_meets_the_attachment_routes_as_the_rules_say(app: &TestApp) {
    use crate::attack_matrix::{Division, Misses, EVERYONE};
    let ours = app.file(&app.login(&app.org.requester), "添付の行列 市民課");
    let theirs = app.file(&app.login(&app.org.outsider), "添付の行列 保育課");
    let admin = app.login(&app.org.admin);
    let mut misses = Misses::new();
    let mut cells = 0;
    for (division, c) in [(Division::Shimin, &ours), (Division::Hoiku, &theirs)] {
        let path = format!("/api/v1/consultations/{}/attachments", c["id"]);
        let (status, body) = upload(app, &path, &admin, &[("seed.png", PNG)], false);
        assert_eq!(status, 201, "{body:?}");
        let href = body["items"][0]["href"].as_str().expect("href").to_string();
        for who in EVERYONE {
            let token = app.login(who.user(app));
            let sees = who.sees(division);
            let expected = if !sees {
                404
            } else if who.is_manager() {
                403
            } else {
                201
            };
            let (status, body) = upload(app, &path, &token, &[("x.txt", b"text")], false);
            misses.check("POST attachments", who, expected, status, &body);
            let list = app.get(&path, &token);
            misses.check(
                "GET attachments",
                who,
                if sees { 200 } else { 404 },
                list.status,
                &list.body,
            );
            let one = app.get(&href, &token);
            let shown = if one.status == 200 {
                Value::Null
            } else {
                one.body.clone()
            };
            misses.check(
                "GET attachment",
                who,
                if sees { 200 } else { 404 },
                one.status,
                &shown,
            );
            cells += 3;
        }
    }
    misses.assert_none(cells);
}
