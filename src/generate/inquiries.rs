//! The helpdesk stream of a generated city: inquiries in the proportion the
//! desk sees (about 3.5 per consultation), with their timelines, written by the
//! database itself (`INSERT … SELECT` over a number series, one statement per
//! fiscal year) from a few dozen question templates. What it guarantees:
//! numbers `HD-<fy>-<seq>` in asking order per fiscal year, with
//! `inquiry_counters` advanced; each inquiry's timeline follows the inquiry
//! table (`ask`, then `answer` by an SE, then `close` by the asker or the
//! system) and its `version` is its number of events; nothing happens on or
//! after the end of history; the newest few are still open or answered.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use super::FISCAL_YEARS;
use crate::db::DbConn;
use crate::domain::fiscal::fiscal_year;

/// (subject, question, answer, topic); a number is added to each subject so the
/// texts are not all alike.
const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "一覧で自分の係のレコードだけ表示したい",
        "アプリの一覧で自分の係が登録したものだけを見たい",
        "絞り込み条件に作成者の所属を追加してください",
        "how_to",
    ),
    (
        "ルックアップの値が更新されない",
        "参照先を変えたのに値が古いまま",
        "取得ボタンを押し直すか一括更新をしてください",
        "error",
    ),
    (
        "異動者のアカウント発行",
        "4月の異動者がログインできない",
        "人事異動の反映は毎週月曜です",
        "account_licence",
    ),
    (
        "CSVの文字化け",
        "Excelで保存したCSVを読み込むと文字化けする",
        "CSV UTF-8 で保存し直してください",
        "how_to",
    ),
    (
        "他課への閲覧権限",
        "隣の課にアプリを閲覧だけさせたい",
        "アクセス権で閲覧だけを付けてください",
        "permissions",
    ),
    (
        "計算式のエラー",
        "日付の差を求める計算式が不正と言われる",
        "日時フィールドの引き算で求めます",
        "error",
    ),
    (
        "電子申請データの取り込み",
        "電子申請の結果を毎日アプリに登録したい",
        "CSV出力を一括登録で取り込めます",
        "integration",
    ),
    (
        "通知メールが届かない",
        "登録しても担当者に通知が届かない",
        "通知の宛先を担当者フィールドにしてください",
        "error",
    ),
    (
        "プロセス管理の差し戻し",
        "承認者が差し戻したとき申請者に戻したい",
        "申請中に戻るアクションを追加してください",
        "how_to",
    ),
    (
        "ライセンスの追加",
        "臨時職員のライセンスを追加したい",
        "月単位で追加できます。申請書を送ってください",
        "account_licence",
    ),
    (
        "添付ファイルの容量",
        "添付ファイルが大きくて登録できない",
        "1ファイル10MBまでです。分割してください",
        "other",
    ),
    (
        "API連携の設定",
        "他システムからレコードを登録したい",
        "APIトークンを発行し、登録APIを使ってください",
        "integration",
    ),
];

/// Writes `count` inquiries spread over the fiscal years of the history ending
/// at `as_of`; returns how many events were written.
pub fn generate_inquiries(
    conn: &mut DbConn,
    count: usize,
    seed: u64,
    as_of: NaiveDate,
    timezone: Tz,
) -> QueryResult<usize> {
    if count == 0 {
        return Ok(0);
    }
    conn.transaction(|conn| {
        prepare(conn)?;
        let last_year = fiscal_year(as_of.pred_opt().unwrap_or(as_of));
        let years: Vec<i32> = (last_year - FISCAL_YEARS + 1..=last_year).collect();
        let epoch = |date: NaiveDate| {
            timezone
                .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.timestamp())
                .unwrap_or_default()
        };
        let end = epoch(as_of);
        // Each year gets its share by how much of it the history covers.
        let spans: Vec<(i32, i64, i64)> = years
            .iter()
            .map(|fy| {
                let start = epoch(NaiveDate::from_ymd_opt(*fy, 4, 1).unwrap_or(as_of));
                let stop = epoch(NaiveDate::from_ymd_opt(fy + 1, 4, 1).unwrap_or(as_of)).min(end);
                (*fy, start, stop.max(start))
            })
            .collect();
        let total: i64 = spans.iter().map(|(_, a, b)| b - a).sum::<i64>().max(1);
        let mut left = count as i64;
        let mut events = 0;
        for (i, (fy, start, stop)) in spans.iter().enumerate() {
            let n = if i + 1 == spans.len() {
                left
            } else {
                (count as i64 * (stop - start) / total).min(left)
            };
            left -= n;
            if n == 0 {
                continue;
            }
            let first_seq = advance_counter(conn, *fy, n)?;
            events += insert_year(conn, *fy, n, first_seq, *start, *stop, end, seed)?;
        }
        cleanup(conn)?;
        Ok(events)
    })
}

/// Templates, askers (requesters with their division) and SEs as numbered
/// tables the statements pick from.
fn prepare(conn: &mut DbConn) -> QueryResult<()> {
    for sql in [
        "CREATE TEMPORARY TABLE gen_templates (k INTEGER PRIMARY KEY, subject TEXT, question TEXT, answer TEXT, topic TEXT)",
        "CREATE TEMPORARY TABLE gen_askers (k INTEGER PRIMARY KEY, user_id BIGINT, division_id BIGINT)",
        "CREATE TEMPORARY TABLE gen_ses (k INTEGER PRIMARY KEY, user_id BIGINT)",
    ] {
        diesel::sql_query(sql).execute(conn)?;
    }
    for (k, (subject, question, answer, topic)) in TEMPLATES.iter().enumerate() {
        let insert = "INSERT INTO gen_templates VALUES ($1, $2, $3, $4, $5)";
        let insert = if matches!(conn, DbConn::Postgresql(_)) {
            insert.to_string()
        } else {
            numbered_for_sqlite(insert)
        };
        diesel::sql_query(insert)
            .bind::<Integer, _>(k as i32)
            .bind::<Text, _>(*subject)
            .bind::<Text, _>(*question)
            .bind::<Text, _>(*answer)
            .bind::<Text, _>(*topic)
            .execute(conn)?;
    }
    diesel::sql_query(
        "INSERT INTO gen_askers (k, user_id, division_id) \
         SELECT ROW_NUMBER() OVER (ORDER BY u.id) - 1, u.id, \
                CASE WHEN d.kind = 'section' AND d.parent_id IS NOT NULL THEN d.parent_id ELSE d.id END \
         FROM users u JOIN departments d ON d.id = u.department_id \
         WHERE u.role = 'requester' AND u.active",
    )
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO gen_ses (k, user_id) \
         SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id FROM users WHERE role = 'helpdesk' AND active",
    )
    .execute(conn)?;
    Ok(())
}

fn cleanup(conn: &mut DbConn) -> QueryResult<()> {
    for table in ["gen_templates", "gen_askers", "gen_ses"] {
        diesel::sql_query(format!("DROP TABLE {table}")).execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

/// Takes `n` numbers of a fiscal year's counter; returns the first.
fn advance_counter(conn: &mut DbConn, fy: i32, n: i64) -> QueryResult<i64> {
    let postgres = matches!(conn, DbConn::Postgresql(_));
    let sql = |text: &str| {
        if postgres {
            text.to_string()
        } else {
            numbered_for_sqlite(text)
        }
    };
    diesel::sql_query(sql(
        "INSERT INTO inquiry_counters (fiscal_year, last_seq) VALUES ($1, 0) \
         ON CONFLICT (fiscal_year) DO NOTHING",
    ))
    .bind::<Integer, _>(fy)
    .execute(conn)?;
    let seq: Seq = diesel::sql_query(sql(
        "UPDATE inquiry_counters SET last_seq = last_seq + $1 WHERE fiscal_year = $2 RETURNING last_seq",
    ))
    .bind::<BigInt, _>(n)
    .bind::<Integer, _>(fy)
    .get_result(conn)?;
    Ok(seq.last_seq - n + 1)
}

/// One fiscal year's inquiries and their events. Times are epoch seconds,
/// turned into each backend's timestamps.
#[allow(clippy::too_many_arguments)]
fn insert_year(
    conn: &mut DbConn,
    fy: i32,
    n: i64,
    first_seq: i64,
    start: i64,
    stop: i64,
    end: i64,
    seed: u64,
) -> QueryResult<usize> {
    let postgres = matches!(conn, DbConn::Postgresql(_));
    let (series, ts, number) = if postgres {
        (
            "SELECT generate_series(1, $1::bigint) AS i",
            "(to_timestamp({}) AT TIME ZONE 'UTC')",
            "'HD-' || $3 || '-' || lpad(({seq})::text, greatest(5, length(({seq})::text)), '0')",
        )
    } else {
        (
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) SELECT i FROM s",
            "datetime({}, 'unixepoch')",
            "'HD-' || $3 || '-' || printf('%05d', {seq})",
        )
    };
    let at = |secs: &str| ts.replace("{}", secs);
    let seq = "($4 + n.i - 1)";
    let number = number.replace("{seq}", seq);
    // Asked at an even spread over the year; answered two hours later, closed a
    // week later; the last day's are still open, the last week's answered.
    let created = "($5 + (n.i - 1) * ($6 - $5) / $1)";
    let state = format!(
        "CASE WHEN $7 - {created} < 86400 THEN 'open' \
              WHEN $7 - {created} < 7 * 86400 THEN 'answered' ELSE 'closed' END"
    );
    let mix = format!("((n.i * 2654435761 + {}) % 1000003)", seed % 1_000_003);
    let sql = format!(
        "INSERT INTO inquiries (number, fiscal_year, subject, question, topic, channel, priority, \
           department_id, asker_id, filed_by, state, assignee_id, answer, helped, version, created_at, \
           updated_at, first_answer_due_at, first_answered_at, answered_at, closed_at, reminded_due_at, breached_due_at) \
         SELECT {number}, $2, t.subject || ' ' || ({mix} % 997), t.question, t.topic, \
           CASE WHEN n.i % 3 = 0 THEN 'web' ELSE 'phone' END, 'normal', a.division_id, a.user_id, \
           CASE WHEN n.i % 3 = 0 THEN a.user_id ELSE s.user_id END, {state}, \
           CASE WHEN {state} = 'open' THEN NULL ELSE s.user_id END, \
           CASE WHEN {state} = 'open' THEN NULL ELSE t.answer END, \
           CASE WHEN {state} = 'closed' THEN n.i % 5 <> 0 ELSE NULL END, \
           CASE {state} WHEN 'open' THEN 1 WHEN 'answered' THEN 2 ELSE 3 END, \
           {created_at}, \
           CASE {state} WHEN 'open' THEN {created_at} WHEN 'answered' THEN {answered_at} ELSE {closed_at} END, \
           {due_at}, \
           CASE WHEN {state} = 'open' THEN NULL ELSE {answered_at} END, \
           CASE WHEN {state} = 'open' THEN NULL ELSE {answered_at} END, \
           CASE WHEN {state} = 'closed' THEN {closed_at} ELSE NULL END, \
           CASE WHEN {state} = 'open' THEN NULL ELSE {due_at} END, \
           CASE WHEN {state} = 'open' THEN NULL ELSE {due_at} END \
         FROM ({series}) n \
         JOIN gen_templates t ON t.k = {mix} % (SELECT COUNT(*) FROM gen_templates) \
         JOIN gen_askers a ON a.k = ({mix} / 7) % (SELECT COUNT(*) FROM gen_askers) \
         JOIN gen_ses s ON s.k = n.i % (SELECT COUNT(*) FROM gen_ses) \
         ORDER BY n.i",
        created_at = at(created),
        answered_at = at(&format!("({created} + 7200)")),
        closed_at = at(&format!("({created} + 7 * 86400)")),
        due_at = at(&format!("({created} + 86400)")),
    );
    let before: Seq = diesel::sql_query("SELECT COALESCE(MAX(id), 0) AS last_seq FROM inquiries")
        .get_result(conn)?;
    let sql = if postgres {
        sql
    } else {
        numbered_for_sqlite(&sql)
    };
    let written = diesel::sql_query(sql)
        .bind::<BigInt, _>(n)
        .bind::<Integer, _>(fy)
        .bind::<Text, _>(fy.to_string())
        .bind::<BigInt, _>(first_seq)
        .bind::<BigInt, _>(start)
        .bind::<BigInt, _>(stop)
        .bind::<BigInt, _>(end)
        .execute(conn)?;
    let mut events = 0;
    for (event, from, to, version, actor, at, filter) in [
        (
            "ask",
            "NULL",
            "'open'",
            1,
            "filed_by",
            "created_at",
            "1 = 1",
        ),
        (
            "answer",
            "'open'",
            "'answered'",
            2,
            "assignee_id",
            "answered_at",
            "state <> 'open'",
        ),
        (
            "close",
            "'answered'",
            "'closed'",
            3,
            "CASE WHEN helped THEN asker_id ELSE NULL END",
            "closed_at",
            "state = 'closed'",
        ),
    ] {
        let payload = if event == "answer" {
            if postgres {
                "json_build_object('answer', answer)::text"
            } else {
                "json_object('answer', answer)"
            }
        } else {
            "'{}'"
        };
        events += diesel::sql_query(format!(
            "INSERT INTO inquiry_events (inquiry_id, event, actor_id, from_state, to_state, payload, version, created_at) \
             SELECT id, '{event}', {actor}, {from}, {to}, {payload}, {version}, {at} \
             FROM inquiries WHERE id > {} AND {filter}",
            before.last_seq
        ))
        .execute(conn)?;
    }
    debug_assert!(written as i64 == n);
    Ok(events)
}

/// SQLite numbers its parameters `?1`, `?2`… (a `$1` there is a name, bound in
/// order of first appearance).
fn numbered_for_sqlite(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}
