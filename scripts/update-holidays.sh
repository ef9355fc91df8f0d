#!/usr/bin/env bash
# Regenerates src/domain/calendar/holidays_jp.csv from the npm package
# @holiday-jp/holiday_jp (MIT, maintained by the holiday-jp project from the
# Cabinet Office's list). Run it when the law changes or the package moves on;
# nothing is fetched at run time, as city networks are closed.
set -euo pipefail
version="${1:-2.5.1}"
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@holiday-jp/holiday_jp@$version" >/dev/null && tar xzf ./*.tgz)
node -e '
  const h = require(process.argv[1]);
  const days = Object.values(h.holidays || h).filter(d => d.date >= "2000-01-01");
  console.log("# Japanese national holidays from @holiday-jp/holiday_jp " + process.argv[2] + " (MIT). Regenerate: scripts/update-holidays.sh");
  console.log("date,name,name_en");
  for (const d of days) console.log([d.date, d.name, d.name_en].join(","));
' "$work/package/lib/holidays.js" "$version" > src/domain/calendar/holidays_jp.csv
echo "wrote $(grep -c '^[0-9]' src/domain/calendar/holidays_jp.csv) holidays"
