#!/usr/bin/env bash
# Measures the walk from `main()` to the statistics SQL of a first `pipeline run` with the shipped
# pipeline.toml on an empty database (ARCHITECTURE.md): builds the debug binary, runs it under gdb
# with docs/walk.py and prints the counts; the calls in order go to walk.txt (or $WALK_OUT).
# Needs gdb and a PostgreSQL server (DATABASE_URL's, default the local one).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p pipeline
base="${WALK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
db="pipeline_walk_$$"
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
trap 'psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
export WALK_OUT="${WALK_OUT:-$PWD/walk.txt}"
DATABASE_URL="$base/$db" gdb -q -batch -x docs/walk.py --args target/debug/pipeline run >/dev/null 2>&1 || true
sed -n '/^$/,$p' "$WALK_OUT"
