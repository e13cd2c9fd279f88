#!/usr/bin/env bash
# Fuzzes the record parser and the row rules for a bounded time (default 60 s):
#   bash fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the nightly-only flags are
# allowed with RUSTC_BOOTSTRAP=1, and no sanitizer is used (the code under test has no unsafe).
# A crash is written to fuzz/artifacts/record/; keep it as a regression test in
# stages/src/csv_extract.rs or stages/src/validate/rules.rs once fixed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
mkdir -p corpus/record
# Seed the corpus with lines of the fixtures.
for f in ../datasets/fixtures/*/*.csv; do
    i=0
    while IFS= read -r line && [ $i -lt 20 ]; do
        printf '%s' "$line" > "corpus/record/$(basename "$f" .csv)-$i"
        i=$((i + 1))
    done < "$f"
done
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none record corpus/record -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
