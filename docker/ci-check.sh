#!/usr/bin/env bash
# Checks the container files without a container engine:
#   * docker-compose.yml is valid for a real Compose parser (docker-compose
#     1.29 from Debian, installed if missing), with the defaults and with
#     .env.example, without warnings, and keeps its services and health gate;
#     it publishes no port by default, and docker-compose.db-port.yml (the
#     opt-in) publishes the database on 127.0.0.1 only;
#   * the Dockerfile is multi-stage, builds the way CI builds
#     (cargo build --release --locked -p pipeline), uses a pinned toolchain
#     image no older than the workspace's rust-version, and runs as a non-root
#     USER.
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
    services=$(docker-compose --project-directory . -f "$compose_file" --env-file "$tmp/empty.env" config --services | sort | tr '\n' ' ')
    if [ "$services" = "db pipeline scheduler " ]; then
        ok "services: $services"
    else
        fail "expected services db, pipeline, scheduler; found: $services"
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
    # A published port clashes with a PostgreSQL already on the host's 5432.
    if grep -qE '^[[:space:]]+ports:' "$tmp/config.yml"; then
        fail "$compose_file publishes a port by default; publish the database only in $db_port_file"
    else
        ok "no port published by default"
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
awk '
    /^[[:space:]]*#/ { next }
    { line = line $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
    { if (line ~ /[^[:space:]]/) print line; line = "" }
' "$dockerfile" >"$tmp/instructions"

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

if [ "$failures" -ne 0 ]; then
    echo "docker checks: $failures problem(s)" >&2
    exit 1
fi
echo "docker checks passed"
