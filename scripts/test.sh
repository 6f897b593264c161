#!/usr/bin/env bash
# The project's test command (run by `make test` and by CI's .ci/run):
#   1. ruff over the code;
#   2. Debian's chromium for the rendered-report test (installed when missing and we are root);
#   3. the whole suite on SQLite;
#   4. PostgreSQL from Debian's packages (installed when missing), a throw-away cluster started
#      on 127.0.0.1 as the postgres user, and the whole suite again against it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
  else
    echo "cannot install $* (not root or no apt-get); install it and rerun" >&2
    return 1
  fi
}

echo "== ruff"
"$VENV/bin/ruff" check auditor connectors reports tests benchmarks

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (rendered-report test)"
  apt_install chromium || true
fi

echo "== tests on SQLite"
"$PY" -m pytest -q "$@"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "== installing postgresql"
  apt_install postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

PGDIR=$(mktemp -d /tmp/auditor-pg.XXXXXX)
PORT=$(( 20000 + RANDOM % 20000 ))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
cleanup() { as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
echo "== starting PostgreSQL ($("$PG_BIN/postgres" --version | awk '{print $3}')) on 127.0.0.1:$PORT"
as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-h 127.0.0.1 -p $PORT -k $PGDIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off" start >/dev/null

echo "== tests on PostgreSQL"
AUDITOR_TEST_PG="postgresql://postgres@127.0.0.1:$PORT/postgres" "$PY" -m pytest -q "$@"
