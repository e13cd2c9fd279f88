#!/usr/bin/env bash
# Fuzzes, each for a bounded time (default 60 s): the record parser and the row rules (target
# `record`), then the gzip path of the extract with multi-member input (target `gzip`):
#   bash fuzz/run.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the nightly-only flags are
# allowed with RUSTC_BOOTSTRAP=1, and no sanitizer is used (the code under test has no unsafe).
# A crash is written to fuzz/artifacts/<target>/; keep it as a regression test in
# stages/src/extractors/csv_extract.rs or stages/src/validators/validate/rules.rs once fixed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
mkdir -p corpus/record corpus/gzip
# Seed the corpora with the fixtures: lines for `record`, whole files for `gzip` (behind the
# layout bytes: 2 cuts, buffers of 8 bytes, no trailing bytes, cuts at 16 and 64).
for f in ../datasets/fixtures/*/*.csv; do
    name=$(basename "$(dirname "$f")")-$(basename "$f" .csv)
    i=0
    while IFS= read -r line && [ $i -lt 20 ]; do
        printf '%s' "$line" > "corpus/record/$name-$i"
        i=$((i + 1))
    done < "$f"
    { printf '\002\007\000\020\000\100\000'; head -c 3000 "$f"; } > "corpus/gzip/$name"
done
for target in record gzip; do
    RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
done
