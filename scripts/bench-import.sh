#!/usr/bin/env bash
# kintone import benchmark: writes a kintone-shaped CSV export of the Digicon app
# with N consultations (default 10,000), each with a history table of 1–3 rows,
# quotes and line breaks in its texts, in every state, over ten fiscal years; loads
# a generated organisation (no consultations) into a fresh SQLite database; then
# times `digicon import kintone` with the starter mapping of `--print-mapping`,
# once for real and once again (which must import nothing).
#
# Usage: scripts/bench-import.sh [N]
#   WORK=dir       where the database and CSV go (default target/bench-import)
#   ENCODING=utf-8-bom|utf-8|shift_jis   the export's encoding (default utf-8-bom)
#   KEEP=1         keep WORK afterwards (default: delete it)
# Figures are wall-clock times on whatever else the machine runs.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-10000}
WORK=${WORK:-$PWD/target/bench-import}
ENCODING=${ENCODING:-utf-8-bom}
BIN=$PWD/target/release/digicon
rm -rf "$WORK"
mkdir -p "$WORK"
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

cargo build --release --quiet
export DATABASE_URL="sqlite://$WORK/digicon.db" DIGICON_DATA_DIR="$WORK" RUST_LOG=warn
"$BIN" generate --consultations 0 --inquiries 0 > /dev/null
"$BIN" import kintone --app digicon --print-mapping > "$WORK/mapping.toml"

python3 - "$N" "$WORK/digicon.db" "$WORK/export.csv" "$ENCODING" <<'PY'
import csv, io, random, sqlite3, sys
from datetime import datetime, timedelta

n, db, out, encoding = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rnd = random.Random(1)
con = sqlite3.connect(db)
requesters = con.execute(
    "SELECT u.email, d.code FROM users u JOIN departments d ON d.id = u.department_id "
    "WHERE u.role = 'requester' ORDER BY u.id LIMIT 3000").fetchall()
ses = [r[0] for r in con.execute("SELECT email FROM users WHERE role = 'helpdesk' ORDER BY id")]
states = ["受付", "ヒアリング", "対応中", "回答待ち", "解決", "完了", "完了", "完了", "取下げ"]
categories = ["ローコードアプリ", "電子申請", "RPA", "AI-OCR", "データ活用", "その他"]
header = ["レコードの開始行", "レコード番号", "受付番号", "作成日時", "更新日時", "作成者", "所属",
          "件名", "相談内容", "相談区分", "優先度", "希望時期", "連絡先", "ステータス", "担当SE",
          "作業者", "ヒアリング日時", "ヒアリング場所", "対応結果", "解決日", "完了日",
          "対応日時", "対応者", "対応内容"]
start = datetime(2016, 4, 1, 9, 0)
span = (datetime(2026, 3, 31) - start).total_seconds()
counters = {}
buf = io.StringIO()
w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
w.writerow(header)
rows = 0
for i in range(1, n + 1):
    created = start + timedelta(seconds=span * (i - 1) / n)
    fy = created.year if created.month >= 4 else created.year - 1
    counters[fy] = counters.get(fy, 0) + 1
    email, dept = rnd.choice(requesters)
    se = rnd.choice(ses)
    state = rnd.choice(states)
    hearing = created + timedelta(days=3, hours=1)
    resolved = created + timedelta(days=rnd.randint(5, 40))
    closed = resolved + timedelta(days=rnd.randint(1, 10))
    fmt = lambda t: t.strftime("%Y-%m-%d %H:%M")
    main = ["*", str(i), f"DX-{fy}-{counters[fy]:04d}", fmt(created), fmt(closed), email, dept,
            f"「{categories[i % 6]}」で紙の申請を減らしたい（{i}）",
            f"毎月\"{i % 300}\"件の申請書を手入力しています。\n表計算ソフトで集計しています。",
            categories[i % 6], rnd.choice(["低", "中", "高"]), "", "内線 1234", state,
            se if state not in ("受付", "ヒアリング") else "", email if state == "回答待ち" else "",
            fmt(hearing) if state != "受付" else "", "会議室A" if state != "受付" else "",
            "アプリを作成し、運用を開始しました。" if state in ("解決", "完了") else "",
            resolved.strftime("%Y/%m/%d") if state in ("解決", "完了") else "",
            closed.strftime("%Y/%m/%d") if state in ("完了", "取下げ") else ""]
    notes = rnd.randint(1, 3)
    for k in range(notes):
        note = [fmt(created + timedelta(days=k + 1)), se, f"対応メモ{k + 1}：電話で状況を確認した。"]
        w.writerow(main + note if k == 0 else [""] + main[1:] + note)
        rows += 1
text = buf.getvalue()
if encoding == "shift_jis":
    data = text.encode("cp932")
elif encoding == "utf-8":
    data = text.encode("utf-8")
else:
    data = text.encode("utf-8-sig")
open(out, "wb").write(data)
print(f"wrote {n} records in {rows} rows ({len(data) / 1e6:.1f} MB, {encoding})")
PY

run() {
  local started=$(date +%s.%N)
  "$BIN" import kintone --app digicon --mapping "$WORK/mapping.toml" "$@" "$WORK/export.csv"
  echo "wall clock: $(echo "$(date +%s.%N) - $started" | bc) s"
}
echo "== dry run"
run --dry-run
echo "== import"
run
echo "== the same file again"
run
sqlite3 "$WORK/digicon.db" "SELECT 'consultations', COUNT(*) FROM consultations; SELECT 'events', COUNT(*) FROM consultation_events; SELECT 'comments', COUNT(*) FROM comments;"
