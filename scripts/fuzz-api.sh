#!/usr/bin/env bash
# A long schemathesis run against the API, by hand (CI runs a short one in
# tests/api/fuzz.rs). Two ways:
#
#   scripts/fuzz-api.sh [EXAMPLES]
#       the test's own set-up: a fresh app on SQLite and then on a throwaway
#       PostgreSQL, a real admin token, a few records, EXAMPLES cases per operation
#       and phase (default 200; the CI run uses 10). Prints schemathesis' summary.
#
#   URL=http://127.0.0.1:8080 TOKEN=<admin bearer token> scripts/fuzz-api.sh [EXAMPLES]
#       a server you started (e.g. `digicon serve --demo`); mint the token with
#       POST /api/v1/auth/token. Operations that end sessions are left out, since
#       they would end TOKEN's; the cargo mode above covers them with a second admin.
#
#   SEED=n    another seed (default: random in URL mode, fixed in cargo mode)
# Needs: pip install schemathesis==4.32.5
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-200}

if ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
    echo "schemathesis is missing: pip install schemathesis==4.32.5" >&2
    exit 2
fi

if [[ -n "${URL:-}" ]]; then
    : "${TOKEN:?set TOKEN to an admin bearer token}"
    exec python3 -m schemathesis.cli run "$URL/api/openapi.json" --url "$URL" \
        --header "Authorization: Bearer $TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth,negative_data_rejection \
        --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" \
        ${SEED:+--seed "$SEED"} --workers 1 --generation-database none \
        --suppress-health-check all \
        --exclude-name-regex '^(POST /api/v1/auth/logout|DELETE /api/v1/me/sessions|DELETE /api/v1/users/\{id\}/sessions|PATCH /api/v1/users/\{id\}|PATCH /api/v1/me)$'
fi

export DIGICON_FUZZ_EXAMPLES=$EXAMPLES
[[ -n "${SEED:-}" ]] && export DIGICON_FUZZ_SEED=$SEED
exec cargo test --test api fuzz:: -- --nocapture
