//! The April reorganisation as an admin does it in the browser: on the
//! departments page, choose the file Excel saved (Shift_JIS, CRLF lines), read
//! the preview, confirm.

use crate::harness::browser_test;

#[test]
fn an_admin_uploads_a_reorganisation_reads_the_preview_and_confirms_it() {
    browser_test("admin_import", async |ctx| {
        let app = &ctx.app;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("reorg.csv");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
            "action,code,name,kind,parent,merge_into\r\n\
             create,KANKYO,環境局,bureau,,\r\n\
             move,HOIKU,,,KANKYO,\r\n",
        );
        std::fs::write(&file, &sjis).expect("write the file");
        let parent_of_hoiku = || {
            let admin = app.login(&app.org.admin);
            let all = app.get("/api/v1/departments", &admin).body;
            let hoiku = all["items"]
                .as_array()
                .and_then(|d| d.iter().find(|d| d["code"] == "HOIKU").cloned())
                .expect("HOIKU");
            hoiku["parent_id"].clone()
        };

        let b = ctx.browser().await;
        b.login_as(&app.org.admin).await;
        b.goto("/admin/departments").await;
        b.find("form#import-departments input[name=file]")
            .await
            .send_keys(&file.to_string_lossy())
            .await
            .expect("choose the file");
        b.click_and_wait("button#import-preview").await;
        let changes = b.text("table#import-changes").await;
        assert!(
            changes.contains("環境局") && changes.contains("HOIKU"),
            "{changes}"
        );
        assert!(!b.exists("table#import-problems").await);
        assert_eq!(
            parent_of_hoiku(),
            app.org.shimin_bureau,
            "a preview changes nothing"
        );

        b.click_and_wait("button#import-apply-button").await;
        b.wait_for("#import-applied").await;
        let admin = app.login(&app.org.admin);
        let all = app.get("/api/v1/departments", &admin).body;
        let kankyo = all["items"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["code"] == "KANKYO").cloned())
            .expect("KANKYO created");
        assert_eq!(parent_of_hoiku(), kankyo["id"]);
    });
}
