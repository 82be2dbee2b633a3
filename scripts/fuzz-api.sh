#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis (PyPI) against a running hub's OpenAPI document.
#
#   scripts/fuzz-api.sh                 # builds and starts a throw-away hub (temp data dir,
#                                       # loopback ports), creates an admin, fuzzes, stops it
#   CAVS_FUZZ_MODE=standalone scripts/fuzz-api.sh
#                                       # the same against the API alone (example `fuzz_server`:
#                                       # in-memory store, stub pipeline), no hub needed
#   CAVS_FUZZ_URL=http://127.0.0.1:8000 CAVS_FUZZ_USER=admin CAVS_FUZZ_PASSWORD=... \
#     scripts/fuzz-api.sh               # fuzzes an already running hub
#
# Extra arguments go to `schemathesis run` (e.g. `--max-examples 50`). Needs python3; installs
# schemathesis into a virtualenv under ${CAVS_FUZZ_VENV:-target/fuzz-venv} on first use.
# Exit status: schemathesis's (0 when no failure was found).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CAVS_FUZZ_VENV:-$ROOT/target/fuzz-venv}"
MAX_EXAMPLES="${CAVS_FUZZ_MAX_EXAMPLES:-30}"
HUB_PID=""
WORK=""

cleanup() {
  if [[ -n "$HUB_PID" ]]; then
    kill "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
  fi
  if [[ -n "$WORK" ]]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  echo "installing schemathesis into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet schemathesis
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() {
  for _ in $(seq 1 240); do
    if curl -fsS "$CAVS_FUZZ_URL/api/health" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$HUB_PID" 2>/dev/null; then
      echo "the server exited:" >&2
      cat "$WORK/hub.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "the server did not answer /api/health" >&2
  exit 1
}

if [[ -z "${CAVS_FUZZ_URL:-}" && "${CAVS_FUZZ_MODE:-hub}" == "standalone" ]]; then
  WORK="$(mktemp -d)"
  HTTP_PORT="$(free_port)"
  CAVS_FUZZ_USER="fuzz-admin"
  CAVS_FUZZ_PASSWORD="fuzz-password-$(date +%s)"
  (cd "$ROOT" && cargo build --release -p cavs-api --example fuzz_server)
  "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/fuzz_server" \
    "127.0.0.1:$HTTP_PORT" "$CAVS_FUZZ_USER" "$CAVS_FUZZ_PASSWORD" >"$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  CAVS_FUZZ_URL="http://127.0.0.1:$HTTP_PORT"
  wait_ready
elif [[ -z "${CAVS_FUZZ_URL:-}" ]]; then
  WORK="$(mktemp -d)"
  HTTP_PORT="$(free_port)"
  MQTT_PORT="$(free_port)"
  export CAVS_DATA_DIR="$WORK/data"
  export CAVS_HTTP_ADDR="127.0.0.1:$HTTP_PORT"
  export CAVS_MQTT_ADDR="127.0.0.1:$MQTT_PORT"
  export CAVS_SECRET_KEY="fuzz-secret-$(date +%s%N)"
  export CAVS_DATABASE_URL="surrealkv://$WORK/data/db"
  export RUST_LOG="${RUST_LOG:-warn}"
  CAVS_FUZZ_USER="fuzz-admin"
  CAVS_FUZZ_PASSWORD="fuzz-password-$(date +%s)"
  mkdir -p "$CAVS_DATA_DIR"
  (cd "$ROOT" && cargo build --release -p cavs-hub)
  HUB="${CARGO_TARGET_DIR:-$ROOT/target}/release/cavs-hub"
  printf '%s\n' "$CAVS_FUZZ_PASSWORD" |
    "$HUB" user create --username "$CAVS_FUZZ_USER" --role admin --password-stdin
  "$HUB" serve >"$WORK/hub.log" 2>&1 &
  HUB_PID=$!
  CAVS_FUZZ_URL="http://127.0.0.1:$HTTP_PORT"
  wait_ready
fi

: "${CAVS_FUZZ_USER:?set CAVS_FUZZ_USER (an admin) when CAVS_FUZZ_URL is set}"
: "${CAVS_FUZZ_PASSWORD:?set CAVS_FUZZ_PASSWORD when CAVS_FUZZ_URL is set}"

LOGIN_BODY="$(python3 -c 'import json,sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
  "$CAVS_FUZZ_USER" "$CAVS_FUZZ_PASSWORD")"
TOKEN="$(curl -fsS -X POST "$CAVS_FUZZ_URL/api/auth/login" \
  -H 'content-type: application/json' -d "$LOGIN_BODY" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')"

echo "fuzzing $CAVS_FUZZ_URL/api/openapi.json (max $MAX_EXAMPLES examples per operation)" >&2
# schemathesis keeps a cache in ./.schemathesis: run it outside the checkout.
cd "${WORK:-$(mktemp -d)}"
set +e
"$VENV/bin/schemathesis" run "$CAVS_FUZZ_URL/api/openapi.json" \
  --url "$CAVS_FUZZ_URL/api" \
  -H "Authorization: Bearer $TOKEN" \
  --max-examples "$MAX_EXAMPLES" \
  --checks all \
  "$@"
STATUS=$?
set -e
if [[ -n "$HUB_PID" ]] && ! kill -0 "$HUB_PID" 2>/dev/null; then
  echo "the hub died during fuzzing:" >&2
  tail -50 "$WORK/hub.log" >&2
  STATUS=1
fi
exit "$STATUS"
