#!/usr/bin/env bash
# Checks the container files without a container engine:
#   * docker-compose.yml is valid for a real Compose parser (docker-compose
#     1.29 from Debian, installed if missing), with the defaults and with
#     .env.example, without warnings, and keeps its services and health gate;
#     it publishes no port by default, and docker-compose.db-port.yml (the
#     opt-in) publishes the database on 127.0.0.1 only;
#   * its profile `cluster` (docker/check-cluster-profile.py): a Ballista
#     scheduler, two executors or more and a pipeline, none publishing a port,
#     one image built with the build arg FEATURES=ballista, every role
#     advertising its service name, a named volume at the same path in the
#     pipeline and every executor, and the pipeline's configuration (shipped
#     in the image) naming that scheduler and path and otherwise equal to
#     pipeline.toml;
#   * the Dockerfile is multi-stage, builds the way CI builds
#     (cargo build --release --locked -p pipeline) with the cargo features of
#     the build arg FEATURES, uses a pinned toolchain image no older than the
#     workspace's rust-version, and runs as a non-root USER;
#     docker/cluster-prebuilt.Dockerfile repeats its runtime stage.
# Run from anywhere: bash docker/ci-check.sh. Exits non-zero on any problem.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failures=0
ok() { printf 'ok:   %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    failures=$((failures + 1))
}

# ---- the Compose parser ---------------------------------------------------
if ! command -v docker-compose >/dev/null 2>&1; then
    echo "docker-compose not found; installing Debian's package"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "FAIL: docker-compose is missing and this user cannot install it (not root, no sudo)" >&2
            exit 1
        fi
    fi
    # No recommends: only the parser, not a container engine.
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
echo "compose parser: $(docker-compose version --short 2>/dev/null || docker-compose --version)"

# ---- docker-compose.yml ---------------------------------------------------
compose_file=docker-compose.yml
db_port_file=docker-compose.db-port.yml
[ -f "$compose_file" ] || { echo "FAIL: $compose_file not found" >&2; exit 1; }
[ -f "$db_port_file" ] || { echo "FAIL: $db_port_file not found" >&2; exit 1; }

# Validate in an empty environment directory so that a developer's own .env
# does not hide a missing default; then with .env.example.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_compose() { # label, extra args...
    local label=$1
    shift
    if ! env -u POSTGRES_USER -u POSTGRES_PASSWORD -u POSTGRES_DB -u POSTGRES_PORT -u RUST_LOG \
        -u PIPELINE_REPORTS -u COMPOSE_FILE docker-compose --project-directory . -f "$compose_file" "$@" config >"$tmp/config.yml" 2>"$tmp/stderr"; then
        fail "$compose_file is invalid ($label):"
        sed 's/^/      /' "$tmp/stderr" >&2
        return 1
    fi
    # Any message (an unset variable, a deprecated key) counts as a problem.
    if [ -s "$tmp/stderr" ]; then
        fail "$compose_file gives warnings ($label):"
        sed 's/^/      /' "$tmp/stderr" >&2
        return 1
    fi
    ok "$compose_file is valid ($label)"
}
: >"$tmp/empty.env"
if check_compose "defaults only" --env-file "$tmp/empty.env"; then
    # The services without a profile, and the profile `cluster`; "ok<TAB>..."
    # or "fail<TAB>..." per check.
    if ! python3 -c 'import tomllib, yaml' 2>/dev/null; then
        fail "python3 (3.11 or later) with PyYAML is needed to check the profile cluster (Debian: python3-yaml)"
    elif ! python3 docker/check-cluster-profile.py "$tmp/config.yml" >"$tmp/profile" 2>&1; then
        fail "docker/check-cluster-profile.py failed:"
        sed 's/^/      /' "$tmp/profile" >&2
    else
        while IFS=$'\t' read -r outcome message; do
            if [ "$outcome" = ok ]; then ok "$message"; else fail "$message"; fi
        done <"$tmp/profile"
    fi
    healthy=$(grep -c 'condition: service_healthy' "$tmp/config.yml" || true)
    if [ "$healthy" -ge 2 ]; then
        ok "pipeline and scheduler wait for a healthy db"
    else
        fail "pipeline and scheduler must depend on db with condition: service_healthy"
    fi
    if grep -q 'image: pipeline:latest' "$tmp/config.yml"; then
        ok "app services share the image pipeline:latest"
    else
        fail "app services must use image: pipeline:latest"
    fi
    # A published port clashes with a PostgreSQL already on the host's 5432
    # (and the profile's would open Ballista to the network).
    if grep -qE '^[[:space:]]+ports:' "$tmp/config.yml"; then
        fail "$compose_file publishes a port by default; publish the database only in $db_port_file"
    else
        ok "no port published by default, in any profile"
    fi
fi
if check_compose "with $db_port_file" --env-file "$tmp/empty.env" -f "$db_port_file"; then
    # The ports block (its items, joined): "127.0.0.1:5432:5432/tcp" is the one expected.
    published=$(awk '
        /^ +ports:/ { p = 1; ind = match($0, /[^ ]/); next }
        p {
            i = match($0, /[^ ]/)
            if (i > ind || (i == ind && substr($0, i, 2) == "- ")) {
                sub(/^ +(- )?/, ""); out = out sep $0; sep = " "; next
            }
            p = 0
        }
        END { print out }' "$tmp/config.yml")
    if [ "$published" = "127.0.0.1:5432:5432/tcp" ]; then
        ok "$db_port_file publishes the database on 127.0.0.1:5432 only (POSTGRES_PORT)"
    else
        fail "$db_port_file must publish the database's 5432 on 127.0.0.1 only; found: ${published:-nothing}"
    fi
fi
if [ -f .env.example ]; then
    check_compose "with .env.example" --env-file .env.example || true
    check_compose "with .env.example and $db_port_file" --env-file .env.example -f "$db_port_file" || true
    for var in $(grep -ho '\${[A-Z_]*' "$compose_file" "$db_port_file" | tr -d '${' | sort -u); do
        if grep -q "^${var}=" .env.example; then
            ok ".env.example documents $var"
        else
            fail ".env.example does not document $var"
        fi
    done
else
    fail ".env.example not found"
fi

# ---- Dockerfile -----------------------------------------------------------
dockerfile=Dockerfile
[ -f "$dockerfile" ] || { echo "FAIL: $dockerfile not found" >&2; exit 1; }

# One logical instruction per line: comments dropped, continuations joined.
instructions() { # Dockerfile
    awk '
        /^[[:space:]]*#/ { next }
        { line = line $0 }
        /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
        { if (line ~ /[^[:space:]]/) print line; line = "" }
    ' "$1"
}
instructions "$dockerfile" >"$tmp/instructions"

stages=$(grep -ciE '^[[:space:]]*FROM[[:space:]]' "$tmp/instructions" || true)
if [ "$stages" -ge 2 ] && grep -qiE '^[[:space:]]*COPY[[:space:]]+--from=' "$tmp/instructions"; then
    ok "Dockerfile is multi-stage ($stages stages)"
else
    fail "Dockerfile must be multi-stage (FROM ... AS build, then COPY --from=build)"
fi

if grep -iE '^[[:space:]]*RUN[[:space:]]' "$tmp/instructions" |
    grep -qE '(^|[;&|[:space:]])cargo build --release --locked -p pipeline([;&|[:space:]]|$)'; then
    ok "Dockerfile builds with: cargo build --release --locked -p pipeline"
else
    fail "Dockerfile must build with: cargo build --release --locked -p pipeline (as CI does)"
fi

# The cluster's image is the same file built with the build arg FEATURES=ballista
# (docker-compose.yml's profile `cluster`): declared in the build stage, empty
# by default, and given to every cargo build (the dependency layer's too).
features_arg=$(awk 'toupper($1) == "FROM" { from++ } toupper($1) == "ARG" && $2 ~ /^FEATURES(=|$)/ { print from ":" $2; exit }' "$tmp/instructions")
builds=$(grep -iE '^[[:space:]]*RUN[[:space:]]' "$tmp/instructions" | grep -oE 'cargo build' | wc -l)
featured=$(grep -iE '^[[:space:]]*RUN[[:space:]]' "$tmp/instructions" |
    grep -oE 'cargo build --release --locked -p pipeline --features "(\$FEATURES|\$\{FEATURES\})"' | wc -l)
case "$features_arg" in
1:FEATURES | 1:FEATURES= | '1:FEATURES=""')
    if [ "$builds" -ge 1 ] && [ "$featured" -eq "$builds" ]; then
        ok "Dockerfile: ARG FEATURES (empty by default) given to each of its $builds cargo builds"
    else
        fail "Dockerfile: $featured of $builds cargo builds take --features \"\$FEATURES\""
    fi
    ;;
"") fail "Dockerfile: no ARG FEATURES (the cargo features, empty by default) in the build stage" ;;
*) fail "Dockerfile: ARG FEATURES must be declared in the build stage, empty by default (found ${features_arg#*:} in stage ${features_arg%%:*})" ;;
esac

rust_image=$(grep -ioE '^[[:space:]]*FROM[[:space:]]+rust:[^[:space:]]+' "$tmp/instructions" | head -n1 | sed -E 's/.*rust://' || true)
image_version=$(printf '%s' "$rust_image" | grep -oE '^[0-9]+\.[0-9]+(\.[0-9]+)?' || true)
needed=$(sed -nE 's/^rust-version[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' Cargo.toml | head -n1)
if [ -z "$image_version" ]; then
    fail "the build stage must use a pinned rust image (FROM rust:X.Y-...), found: ${rust_image:-none}"
elif [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$needed" "$image_version" | sort -V | head -n1)" != "$needed" ]; then
    fail "rust:$rust_image is older than the workspace's rust-version $needed"
else
    ok "build stage uses rust:$rust_image (workspace needs ${needed:-any})"
fi

user=$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' "$tmp/instructions")
case "$user" in
"") fail "Dockerfile has no USER instruction: the image would run as root" ;;
root | 0 | root:* | 0:*) fail "Dockerfile's final USER is root ($user)" ;;
*) ok "image runs as non-root user: $user" ;;
esac

# ---- docker/cluster-prebuilt.Dockerfile -------------------------------------
# The cluster image around a prebuilt binary (docker/e2e.sh): one stage, the
# Dockerfile's runtime stage instruction for instruction, except where the
# binary comes from.
prebuilt=docker/cluster-prebuilt.Dockerfile
runtime_stage() { # Dockerfile: its last stage, the binary's COPY written alike
    instructions "$1" |
        awk 'toupper($1) == "FROM" { n = 0 } { line[++n] = $0 } END { for (i = 1; i <= n; i++) print line[i] }' |
        sed -E 's#^COPY[[:space:]]+(--from=[^[:space:]]+[[:space:]]+)?[^[:space:]]+[[:space:]]+/usr/local/bin/pipeline$#COPY (the binary) /usr/local/bin/pipeline#'
}
if [ ! -f "$prebuilt" ]; then
    fail "$prebuilt not found"
elif [ "$(instructions "$prebuilt" | grep -ciE '^[[:space:]]*FROM[[:space:]]')" -ne 1 ]; then
    fail "$prebuilt must be one stage (the runtime stage), building nothing"
elif ! diff <(runtime_stage "$dockerfile") <(runtime_stage "$prebuilt") >"$tmp/runtime.diff"; then
    fail "$prebuilt differs from the Dockerfile's runtime stage (< Dockerfile, > $prebuilt):"
    sed 's/^/      /' "$tmp/runtime.diff" >&2
else
    ok "$prebuilt is the Dockerfile's runtime stage ($(runtime_stage "$dockerfile" | wc -l) instructions) around a prebuilt binary"
fi

if [ "$failures" -ne 0 ]; then
    echo "docker checks: $failures problem(s)" >&2
    exit 1
fi
echo "docker checks passed"
