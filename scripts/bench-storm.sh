#!/usr/bin/env bash
# The storm of issue 15: 16 connections open the staff page of *different* open
# consultations (each the first view, so similar consultations are computed, not
# read from the cache) while other connections use the queue page and search. Prints
# both sides' requests/s, p50/p99 and non-2xx answers, and the server's peak memory.
#
#   DATABASE_URL=sqlite:///path/to/generated.db scripts/bench-storm.sh
#   env: STORM_CONNS (16), OTHER_CONNS (4), DURATION (5s), OPEN (20000: at most how
#        many of the newest open consultations the storm walks through), DIGICON_BIN
# Only received and hearing pages show similar consultations (about 5,000 of a
# generated million); the script says how many requests the storm made, so a run
# longer than the ids last is visible (its later requests read the cache).
# Needs wrk and a database made by `digicon generate`; it serves it on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?the generated database to serve}"
storm="${STORM_CONNS:-16}" other="${OTHER_CONNS:-4}" duration="${DURATION:-5s}" open="${OPEN:-20000}"
bin="${DIGICON_BIN:-target/release/digicon}"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export JWT_SECRET=storm-benchmark-secret-of-32-bytes-or-more RUST_LOG=warn
export DIGICON_DATA_DIR="$work/data" DIGICON_BIND="127.0.0.1:$port"
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done

# A page session for the SE, a token for search, and the ids of the newest open ones.
python3 - "$base" "$work" "$open" <<'PY'
import json, re, sys, urllib.request, urllib.parse, http.cookiejar
base, work, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
login = {"email": "gen-helpdesk@gen.digicon.local", "password": "generated-pass-2025"}
req = urllib.request.Request(base + "/api/v1/auth/token", data=json.dumps(login).encode(),
                             headers={"content-type": "application/json"})
token = json.load(urllib.request.urlopen(req))["token"]
ids = []
for state in ["received", "hearing"]:  # the states whose page shows similar ones
    cursor = None
    while len(ids) < want:
        url = f"{base}/api/v1/consultations?state={state}&limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer " + token})))
        ids += [c["id"] for c in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
csrf = re.search(r'name="_csrf" value="([^"]+)"', opener.open(base + "/login").read().decode()).group(1)
opener.open(base + "/login", data=urllib.parse.urlencode({"_csrf": csrf, **login}).encode())
open(work + "/cookie", "w").write("; ".join(f"{c.name}={c.value}" for c in jar))
open(work + "/token", "w").write(token)
open(work + "/ids.txt", "w").write("\n".join(map(str, ids[:want])) + "\n")
open(work + "/ids.lua", "w").write("ids = {" + ",".join(map(str, ids[:want])) + "}\n")
print(f"storm over {len(ids[:want])} open consultations")
PY
cookie=$(cat "$work/cookie") token=$(cat "$work/token")
cat "$work/ids.lua" - >"$work/storm.lua" <<'LUA'
-- Thread k of T asks for ids k, k+T, k+2T...: no page twice until the ids run out.
local counter = 0
local threads = {}
function setup(thread) thread:set("offset", #threads); table.insert(threads, thread) end
function init(args) counter = offset end
function request()
  counter = counter + 2  -- wrk -t2
  return wrk.format("GET", "/consultations/" .. ids[(counter % #ids) + 1])
end
function done(s, l, r) io.write(string.format("Non-2xx: %d\n", s.errors.status)) end
LUA
cat >"$work/other.lua" <<LUA
local paths = {"/consultations", "/api/v1/consultations?q=%E7%94%B3%E8%AB%8B&limit=25"}
local n = 0
function request()
  n = n + 1
  if n % 2 == 0 then return wrk.format("GET", paths[2], {Authorization = "Bearer $token"}) end
  return wrk.format("GET", paths[1], {Cookie = "$cookie"})
end
function done(s, l, r) io.write(string.format("Non-2xx: %d\n", s.errors.status)) end
LUA
wrk -t2 -c"$storm" -d"$duration" --latency -H "Cookie: $cookie" -s "$work/storm.lua" "$base" >"$work/storm.txt" 2>&1 &
storm_pid=$!
wrk -t1 -c"$other" -d"$duration" --latency -s "$work/other.lua" "$base" >"$work/other.txt" 2>&1
wait "$storm_pid"
summary() {
  printf "| %-40s | %8s | %8s | %8s | %s |\n" "$1" "$(awk '/Requests\/sec/ {print $2}' "$2")" \
    "$(awk '$1=="50%" {print $2}' "$2")" "$(awk '$1=="99%" {print $2}' "$2")" "$(awk '/Non-2xx/ {print $2}' "$2")"
}
echo "| side | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
summary "storm: $storm conns, first views of open pages" "$work/storm.txt"
summary "others: $other conns, queue page + search" "$work/other.txt"
echo "storm requests: $(awk '/requests in/ {print $1}' "$work/storm.txt") over $(wc -l <"$work/ids.txt") distinct pages"
echo "server peak memory (VmHWM): $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$server/status")"
