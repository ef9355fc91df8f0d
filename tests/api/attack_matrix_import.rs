//! The reorganisation's imports in the access matrix: every fixture user against
//! the import routes (API, its dry run, and the admin pages' confirm form), with
//! files that touch each division (renaming its department, transferring a user
//! into it). Only admins import, whichever division a file touches; a refused
//! import, and any dry run, changes nothing.

use serde_json::json;

use crate::attack_matrix::{consultation_state, scene, Division, Misses, Who, EVERYONE};
use crate::both_backends;
use crate::helpers::TestApp;
use crate::session::Session;

fn expect_admin_only(who: Who) -> u16 {
    if who == Who::Admin {
        200
    } else {
        403
    }
}

fn imports_answer_each_user_as_the_rules_say(app: &TestApp) {
    let scene = scene(app);
    let admin = scene.token(Who::Admin).to_string();
    let org = &app.org;
    // The directory and each division's consultation, as the admin reads them.
    let world = |app: &TestApp| {
        format!(
            "{}\n{}\n{}\n{}",
            app.get("/api/v1/users?limit=200", &admin).body,
            app.get("/api/v1/departments", &admin).body,
            consultation_state(app, &admin, &scene.ours["id"]),
            consultation_state(app, &admin, &scene.theirs["id"]),
        )
    };
    let mut misses = Misses::new();
    let mut cells = 0;
    for who in EVERYONE {
        let token = scene.token(who);
        let n = format!("{who:?}").to_lowercase();
        let mut session = Session::new(app);
        session.login(&who.user(app).email);
        let csrf = session.csrf();
        for (division, code) in [(Division::Shimin, "SHIMINKA"), (Division::Hoiku, "HOIKU")] {
            let departments = format!("action,code,name\nupdate,{code},{code}{n}\n");
            let users = format!(
                "action,email,department\ntransfer,{},{code}\n",
                org.se2.email
            );
            for (path, file, dry_run) in [
                ("/api/v1/admin/import/departments", &departments, false),
                ("/api/v1/admin/import/users", &users, false),
                (
                    "/api/v1/admin/import/departments?dry_run=true",
                    &departments,
                    true,
                ),
                ("/api/v1/admin/import/users?dry_run=true", &users, true),
            ] {
                let before = world(app);
                let reply = app.send(
                    "POST",
                    path,
                    Some(token),
                    Some(file),
                    &[("Content-Type", "text/csv")],
                );
                let what = format!("POST {path} ({division:?})");
                misses.check(
                    &what,
                    who,
                    expect_admin_only(who),
                    reply.status,
                    &reply.body,
                );
                cells += 1;
                if (who != Who::Admin || dry_run) && world(app) != before {
                    misses.fail(format!("{who:?} {what} changed data"));
                }
            }
            for (path, file) in [
                ("/admin/departments/import", &departments),
                ("/admin/users/import", &users),
            ] {
                for apply in ["true", "false"] {
                    let before = world(app);
                    let page = session.post(
                        path,
                        &[("_csrf", &csrf), ("apply", apply), ("content", file)],
                    );
                    let what = format!("page {path} apply={apply} ({division:?})");
                    misses.check(
                        &what,
                        who,
                        expect_admin_only(who),
                        page.status,
                        &json!(null),
                    );
                    cells += 1;
                    if (who != Who::Admin || apply == "false") && world(app) != before {
                        misses.fail(format!("{who:?} {what} changed data"));
                    }
                }
            }
        }
    }
    misses.assert_none(cells);
}

both_backends!(imports_answer_each_user_as_the_rules_say);
