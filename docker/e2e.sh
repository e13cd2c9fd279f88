#!/usr/bin/env bash
# End-to-end test of the container files: builds the image from the Dockerfile
# and runs the docker-compose.yml stack for real.
#
#   bash docker/e2e.sh
#
# 1. Installs and starts the engine if missing: Debian's docker.io,
#    docker-compose (1.29) and debootstrap; dockerd in the background.
# 2. Makes local stand-ins for the base images where no image registry is
#    reachable, tagged with the names that the Dockerfile and the compose file
#    use (read from them): debian:<suite>-slim from a debootstrap root file
#    system, the rust:<version>-... build image from it plus this machine's
#    Rust toolchain and CA bundle, and postgres:<major> from it plus Debian's
#    postgresql-<major> (docker/standins/). They are test doubles, made only
#    for an image that is neither present nor pullable; a present image, a
#    real one included, is used as it is.
# 3. Builds pipeline:latest with docker-compose build: build time, size
#    (at most 200 MB) and the non-root user it runs as.
# 4. Runs the stack under its own project name while something listens on
#    the host's 127.0.0.1:5432 (the machine's PostgreSQL, else a listener
#    this script starts): the db healthcheck, no port published by default,
#    the demo, an idempotent rerun, results on stdout, the port published on
#    the loopback only when asked (docker-compose.db-port.yml, on a free
#    port) with its password login, docker run against an existing server,
#    the data sets seen by the demo, the data surviving down/up, the
#    scheduler's start and stop.
# 5. Runs the profile `cluster` on pipeline-cluster:latest made from a binary
#    built on this machine with the cargo feature `ballista` (CI's test run
#    leaves target/debug/pipeline so built; docker/cluster-prebuilt.Dockerfile
#    wraps it, the stack is brought up with --no-build, so the feature is not
#    built again in the image): the Ballista scheduler and both executors up
#    and registered under their service names, no port published, the shared
#    snapshot volume, then a backfill of the bundled sample on the cluster and
#    the same with the postgres engine, each into a database of its own, whose
#    customer_daily_stats agree in every row and column. Without such a
#    binary these steps fail under CI (CI=true) and are skipped, in one line,
#    elsewhere.
# 6. Tears down with docker-compose --profile cluster down -v (always, also on
#    failure), and stops the engine and the listener on 5432 if this script
#    started them. Only the images stay.
#
# Prints each step's outcome and time, then "e2e: N passed, M failed"; exits 0
# only if every step held. If the engine cannot start, says so in one line and
# exits 1.
#
# Adding a check: write a function that returns non-zero (after saying why)
# when the check does not hold, and add one `step "what it checks" fn` line to
# the list under "The steps" at the end of this file, after the step that
# makes what it needs (the stack is up from "db starts" to "scheduler").
# `compose ...` runs docker-compose on this project; `pipeline_run ARGS...`
# runs the pipeline service once (`docker-compose run --rm -T pipeline ARGS`)
# and leaves its output in $OUT; `expect_in_output WHAT REGEX` checks it;
# `compose_db_port ...` is `compose` with docker-compose.db-port.yml added;
# `cluster ...` is `compose` with the profile cluster (its steps come after
# "scheduler").
# For example, after the "results" step:
#
#   status_check() { pipeline_run status --check || { show "$OUT"; return 1; }; }
#   step "status --check in the container" status_check
#
# A folder mounted for the container to write in must be writable by the
# image's user (uid 10001): `install -d -o 10001 "$WORK/reports"`, then
# `compose run --rm -T -v "$WORK/reports:/reports" pipeline ...`.
#
# Environment: E2E_KEEP_ENGINE=1 leaves a dockerd that this script started
# running; E2E_REBUILD_STANDINS=1 rebuilds the stand-in images;
# E2E_CLUSTER_BINARY is the binary built with the feature `ballista` that the
# cluster image wraps (default: target/debug/pipeline). DEBIAN_MIRROR
# is the Debian archive that debootstrap fetches from and the stand-ins' apt
# uses, DEBIAN_SECURITY_MIRROR their security archive; by default both are
# read from this machine's own package sources (/etc/apt/sources.list and
# /etc/apt/sources.list.d/, one-line and deb822), so the script uses whatever
# mirror the machine already uses.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$(pwd)
PROJECT=pipeline-e2e
MAX_IMAGE_BYTES=$((200 * 1000 * 1000))
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

WORK=$(mktemp -d)
OUT=$WORK/out
started_dockerd=""
port_holder=""

log() { printf '    %s\n' "$*"; }
say_fail() { printf '    FAIL: %s\n' "$*"; }
show() { sed 's/^/    | /' "$@"; }

# ---- steps -----------------------------------------------------------------
passed=0
failed=0
summary=()
aborted=""
step() { # description, function [args...]
    local name=$1
    shift
    if [ -n "$aborted" ]; then
        summary+=("$(printf '%-6s %5s  %s' skip - "$name")")
        failed=$((failed + 1))
        return
    fi
    echo "==> $name"
    local t0=$SECONDS outcome=ok
    if ! "$@"; then
        outcome=FAIL
    fi
    local secs=$((SECONDS - t0))
    echo "<== $outcome ($secs s): $name"
    summary+=("$(printf '%-6s %4ss  %s' "$outcome" "$secs" "$name")")
    if [ "$outcome" = ok ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
}
# A step that the following ones need: if it fails, they are not attempted.
step_needed() {
    step "$@"
    if [ "${summary[-1]%% *}" = FAIL ]; then
        aborted=yes
    fi
}

# ---- 1. the engine ---------------------------------------------------------
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "e2e: needs root (or sudo) for: $*" >&2
        return 1
    fi
}

install_tools() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if [ ${#missing[@]} -eq 0 ]; then
        log "dockerd, docker-compose and debootstrap are installed"
    else
        log "installing from Debian: ${missing[*]}"
        as_root apt-get update -qq >"$WORK/apt.log" 2>&1 &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" >>"$WORK/apt.log" 2>&1 ||
            {
                show <(tail -n 20 "$WORK/apt.log")
                return 1
            }
    fi
    log "$(dockerd --version 2>/dev/null); $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        log "the engine is running: $(docker info --format 'server {{.ServerVersion}}, storage {{.Driver}}')"
        return 0
    fi
    # Niced, with the builds and containers it starts: other work on the
    # machine keeps its share of the processors.
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo nohup nice -n 10 dockerd >"$WORK/dockerd.log" 2>&1 &
    started_dockerd=$!
    local i
    for i in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            log "started dockerd in ${i} s: $(docker info --format 'server {{.ServerVersion}}, storage {{.Driver}}')"
            return 0
        fi
        kill -0 "$started_dockerd" 2>/dev/null || break
        sleep 1
    done
    local why
    why=$(grep -iE 'level=(fatal|error)|failed' "$WORK/dockerd.log" | tail -n 1)
    echo "e2e: FAIL: the container engine cannot start on this machine: ${why:-dockerd gave no answer within 60 s}" >&2
    return 1
}

engine() {
    install_tools || return 1
    # Not a failed check but a missing engine: one line (above), exit 1.
    start_engine || exit 1
}

# ---- 2. the stand-in base images -------------------------------------------
# The names come from the files a user runs, so that those stay unchanged.
from_image() { # the image of the Dockerfile's FROM line matching a pattern
    awk -v pat="$1" 'toupper($1) == "FROM" && $2 ~ pat { print $2; exit }' "$REPO/Dockerfile"
}
read_image_names() {
    RUST_IMAGE=$(from_image '^rust:')
    DEBIAN_IMAGE=$(from_image '^debian:')
    POSTGRES_IMAGE=$(awk '$1 == "image:" && $2 ~ /^postgres:/ { print $2; exit }' "$REPO/docker-compose.yml")
    if [ -z "$RUST_IMAGE" ] || [ -z "$DEBIAN_IMAGE" ] || [ -z "$POSTGRES_IMAGE" ]; then
        say_fail "expected FROM rust:... and FROM debian:... in the Dockerfile and image: postgres:... in docker-compose.yml"
        return 1
    fi
    SUITE=${DEBIAN_IMAGE#debian:}
    SUITE=${SUITE%-slim}
    RUST_VERSION=${RUST_IMAGE#rust:}
    RUST_VERSION=${RUST_VERSION%%-*}
    PG_MAJOR=${POSTGRES_IMAGE#postgres:}
    PG_MAJOR=${PG_MAJOR%%[-.]*}
    case "$RUST_IMAGE" in
    *-"$SUITE") ;;
    *) log "note: $RUST_IMAGE is not built on $SUITE; its stand-in is" ;;
    esac
    log "base images: $DEBIAN_IMAGE, $RUST_IMAGE, $POSTGRES_IMAGE"
}

STANDIN_LABEL=org.pipeline.e2e.standin
# Whether to build a stand-in: not when the image exists or can be pulled,
# unless it is a stand-in made from other inputs (its label holds their hash).
need_standin() { # image, inputs-hash
    local have pulled
    if ! have=$(docker image inspect -f "{{ index .Config.Labels \"$STANDIN_LABEL\" }}" "$1" 2>/dev/null); then
        if pulled=$(timeout 300 docker pull -q "$1" 2>&1); then
            log "$1: pulled"
            return 1
        fi
        pulled=$(printf '%s' "$pulled" | tail -n 1)
        log "$1: cannot be pulled (${pulled##*: }); building a stand-in"
        return 0
    fi
    if [ -n "${E2E_REBUILD_STANDINS:-}" ] && [ "$have" != "<no value>" ]; then
        return 0
    fi
    case "$have" in
    "<no value>" | "") log "$1: present (not a stand-in), used as it is" ;;
    "$2") log "$1: stand-in present, reused" ;;
    *) return 0 ;;
    esac
    return 1
}
hash_of() { sha256sum | cut -c1-16; } # of its standard input
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
# Removes an image that a new build replaced (and its unshared layers), so
# that repeated runs do not fill the disk; not one that is still tagged or
# still the base of another image.
remove_replaced() { # old image id
    if [ -n "$1" ] && ! docker image inspect -f '{{.RepoTags}}' "$1" 2>/dev/null | grep -q ':'; then
        docker rmi "$1" >/dev/null 2>&1 && log "removed the image it replaces (${1:7:12})"
    fi
    return 0
}

# The host's package sources, one line per enabled `deb` entry and suite:
# "URI SUITE COMPONENT...". Reads the one-line format (sources.list, *.list)
# and deb822 (*.sources); files with other endings are not apt's sources.
apt_source_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '{ sub(/#.*/, ""); gsub(/\[[^]]*\]/, " "); $0 = $0 }
            $1 == "deb" && NF >= 3 { line = $2; for (i = 3; i <= NF; i++) line = line " " $i; print line }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            function flush(   i, j, n, m, t, u, s, deb) {
                n = split(types, t, " ")
                for (i = 1; i <= n; i++) if (t[i] == "deb") deb = 1
                if (deb && tolower(enabled) != "no") {
                    n = split(uris, u, " "); m = split(suites, s, " ")
                    for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j], comps
                }
                types = uris = suites = comps = enabled = field = ""
            }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ {
                if (field == "uris") uris = uris " " $0
                else if (field == "suites") suites = suites " " $0
                else if (field == "components") comps = comps " " $0
                next
            }
            {
                field = tolower(substr($0, 1, index($0, ":") - 1))
                value = substr($0, index($0, ":") + 1)
                if (field == "types") types = value
                else if (field == "uris") uris = value
                else if (field == "suites") suites = value
                else if (field == "components") comps = value
                else if (field == "enabled") { enabled = value; gsub(/[ \t]/, "", enabled) }
            }
            END { flush() }' "$f"
    done
}

# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR, unless set: the URIs of the host's
# Debian main archive (component main of the host's own release, else of
# another release without a dash in its name) and of its security archive
# (a -security suite), among the http(s) sources that debootstrap and the
# stand-ins' apt can fetch from.
host_debian_mirrors() {
    local codename="" uri suite comps exact="" other="" security=""
    codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
    while read -r uri suite comps; do
        case " $comps " in *" main "*) ;; *) continue ;; esac
        case "$uri" in http://* | https://*) ;; *) continue ;; esac
        uri=${uri%/}
        case "$suite" in
        *-security) security=${security:-$uri} ;;
        "$codename") exact=${exact:-$uri} ;;
        *-* | */*) ;;
        *) other=${other:-$uri} ;;
        esac
    done < <(apt_source_entries)
    DEBIAN_MIRROR=${DEBIAN_MIRROR:-${exact:-$other}}
    DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR-$security}
}

# Revision of the recipe below: change it when the recipe changes.
DEBIAN_RECIPE=2
debian_standin() {
    local rev
    host_debian_mirrors
    rev="$DEBIAN_RECIPE-$SUITE-$(printf '%s %s' "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" | sha256sum | cut -c1-8)"
    need_standin "$DEBIAN_IMAGE" "$rev" || return 0
    if [ -z "$DEBIAN_MIRROR" ]; then
        say_fail "no http(s) Debian archive with component main in this machine's package sources (/etc/apt/sources.list, /etc/apt/sources.list.d/); set DEBIAN_MIRROR"
        return 1
    fi
    local root=$WORK/rootfs t0=$SECONDS old
    old=$(image_id "$DEBIAN_IMAGE")
    log "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR (security: ${DEBIAN_SECURITY_MIRROR:-none})"
    if ! as_root debootstrap --variant=minbase "$SUITE" "$root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1; then
        show <(tail -n 20 "$WORK/debootstrap.log")
        say_fail "debootstrap could not fetch $SUITE from $DEBIAN_MIRROR"
        return 1
    fi
    # Slim like the official -slim image: no docs, man pages or translations
    # (now and in later installs), no package caches or lists.
    as_root sh -eu -c '
        root=$1 suite=$2 mirror=$3 security=$4
        cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
        cat >"$root/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
        rm -f "$root/etc/apt/sources.list"
        cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        if [ -n "$security" ]; then
            cat >>"$root/etc/apt/sources.list.d/debian.sources" <<EOF

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        fi
        find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
        rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
            "$root"/usr/share/groff/* "$root"/usr/share/lintian/* \
            "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
            "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/etc/hostname "$root"/etc/resolv.conf
    ' sh "$root" "$SUITE" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" || return 1
    as_root tar -C "$root" --numeric-owner -c . |
        docker import --change 'CMD ["bash"]' --change "LABEL $STANDIN_LABEL=$rev" - "$DEBIAN_IMAGE" >/dev/null ||
        return 1
    as_root rm -rf "$root"
    log "$DEBIAN_IMAGE: stand-in built in $((SECONDS - t0)) s ($(image_mb "$DEBIAN_IMAGE") MB)"
    remove_replaced "$old"
}

# This machine's toolchain of the version the rust image names; else the
# active one if it is no older than the workspace's rust-version.
find_toolchain() {
    local dir candidates=()
    if command -v rustc >/dev/null 2>&1; then
        candidates+=("$(rustc --print sysroot 2>/dev/null)")
    fi
    for dir in "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*; do
        candidates+=("$dir")
    done
    for dir in "${candidates[@]}"; do
        [ -x "$dir/bin/rustc" ] && [ -x "$dir/bin/cargo" ] || continue
        case "$("$dir/bin/rustc" --version 2>/dev/null)" in
        "rustc $RUST_VERSION."* | "rustc $RUST_VERSION "*)
            (cd "$dir" && pwd -P)
            return 0
            ;;
        esac
    done
    local needed active
    needed=$(sed -nE 's/^rust-version[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$REPO/Cargo.toml" | head -n 1)
    dir=${candidates[0]:-}
    [ -n "$needed" ] && [ -n "$dir" ] && [ -x "$dir/bin/rustc" ] && [ -x "$dir/bin/cargo" ] || return 1
    active=$("$dir/bin/rustc" --version | awk '{ print $2 }')
    [ "$(printf '%s\n%s\n' "$needed" "$active" | sort -V | head -n 1)" = "$needed" ] || return 1
    (cd "$dir" && pwd -P)
}

rust_standin() {
    local toolchain ca=/etc/ssl/certs/ca-certificates.crt
    if ! toolchain=$(find_toolchain); then
        # Only when the image must be made: a present one is used as it is.
        if docker image inspect "$RUST_IMAGE" >/dev/null 2>&1; then
            log "$RUST_IMAGE: present, used as it is"
            return 0
        fi
        say_fail "no Rust toolchain here for the stand-in of $RUST_IMAGE (Rust $RUST_VERSION, or at least the workspace's rust-version)"
        return 1
    fi
    local version
    version=$("$toolchain/bin/rustc" --version | awk '{ print $2 }')
    case "$version" in
    "$RUST_VERSION" | "$RUST_VERSION".*) ;;
    *) log "note: no Rust $RUST_VERSION here; the stand-in of $RUST_IMAGE carries Rust $version" ;;
    esac
    [ -f "$ca" ] || {
        say_fail "no CA bundle at $ca"
        return 1
    }
    local rev
    rev=$( (
        cat "$REPO/docker/standins/rust.Dockerfile" "$ca"
        "$toolchain/bin/rustc" --version
        docker image inspect -f '{{.Id}}' "$DEBIAN_IMAGE"
    ) | hash_of)
    need_standin "$RUST_IMAGE" "$rev" || return 0
    local ctx=$WORK/rust-ctx t0=$SECONDS part old
    old=$(image_id "$RUST_IMAGE")
    mkdir -p "$ctx/toolchain"
    cp "$REPO/docker/standins/rust.Dockerfile" "$ctx/Dockerfile"
    cp "$ca" "$ctx/ca-certificates.crt"
    # Hard links where possible: the toolchain is large. Its docs stay out.
    for part in bin lib libexec; do
        [ -e "$toolchain/$part" ] || continue
        cp -al "$toolchain/$part" "$ctx/toolchain/" 2>/dev/null || cp -a "$toolchain/$part" "$ctx/toolchain/"
    done
    if ! docker build -q --label "$STANDIN_LABEL=$rev" --build-arg "BASE=$DEBIAN_IMAGE" \
        --build-arg "RUST_VERSION=$version" \
        -t "$RUST_IMAGE" "$ctx" >"$WORK/rust-build.log" 2>&1; then
        show <(tail -n 20 "$WORK/rust-build.log")
        return 1
    fi
    rm -rf "$ctx"
    log "$RUST_IMAGE: stand-in built in $((SECONDS - t0)) s from $toolchain"
    remove_replaced "$old"
}

postgres_standin() {
    local rev
    rev=$( (
        cat "$REPO/docker/standins/postgres.Dockerfile" "$REPO/docker/standins/postgres-entrypoint.sh"
        echo "$PG_MAJOR"
        docker image inspect -f '{{.Id}}' "$DEBIAN_IMAGE"
    ) | hash_of)
    need_standin "$POSTGRES_IMAGE" "$rev" || return 0
    local ctx=$WORK/pg-ctx t0=$SECONDS old
    old=$(image_id "$POSTGRES_IMAGE")
    mkdir -p "$ctx"
    cp "$REPO/docker/standins/postgres.Dockerfile" "$ctx/Dockerfile"
    cp "$REPO/docker/standins/postgres-entrypoint.sh" "$ctx/"
    if ! docker build -q --label "$STANDIN_LABEL=$rev" --build-arg "BASE=$DEBIAN_IMAGE" \
        --build-arg "PG_MAJOR=$PG_MAJOR" -t "$POSTGRES_IMAGE" "$ctx" >"$WORK/pg-build.log" 2>&1; then
        show <(tail -n 20 "$WORK/pg-build.log")
        return 1
    fi
    rm -rf "$ctx"
    log "$POSTGRES_IMAGE: stand-in built in $((SECONDS - t0)) s"
    remove_replaced "$old"
}

base_images() {
    read_image_names && debian_standin && rust_standin && postgres_standin
}

# ---- 3. the image ----------------------------------------------------------
image_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1000000 }'; }

# The build stage is tagged too, so that its cached layers outlive the next
# source change; the images they replace are removed, so that repeated runs
# do not fill the disk.
BUILD_CACHE_TAG=pipeline-build-cache:latest
build_image() {
    local old_app old_cache t0=$SECONDS
    old_app=$(image_id pipeline:latest)
    old_cache=$(image_id "$BUILD_CACHE_TAG")
    if ! docker build --target build -t "$BUILD_CACHE_TAG" "$REPO" >"$WORK/build.log" 2>&1 ||
        ! compose build pipeline >>"$WORK/build.log" 2>&1; then
        show <(tail -n 40 "$WORK/build.log")
        return 1
    fi
    local cached
    cached=$(grep -c 'Using cache' "$WORK/build.log")
    log "built pipeline:latest with docker-compose build in $((SECONDS - t0)) s ($cached steps from the layer cache)"
    remove_replaced "$old_app"
    remove_replaced "$old_cache"
    return 0
}

image_size() {
    local bytes
    bytes=$(docker image inspect -f '{{.Size}}' pipeline:latest) || return 1
    log "image size: $(image_mb pipeline:latest) MB (limit $((MAX_IMAGE_BYTES / 1000000)) MB)"
    [ "$bytes" -le "$MAX_IMAGE_BYTES" ] || {
        say_fail "pipeline:latest is larger than 200 MB"
        return 1
    }
}

image_user() {
    local user uid
    user=$(docker image inspect -f '{{.Config.User}}' pipeline:latest) || return 1
    uid=$(docker run --rm --entrypoint id pipeline:latest -u) || return 1
    log "runs as: ${user:-<unset>} (uid $uid), entrypoint $(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' pipeline:latest)"
    [ -n "$user" ] && [ "$uid" != 0 ] || {
        say_fail "the image runs as root"
        return 1
    }
}

# ---- 4. the stack ----------------------------------------------------------
# Only the variables of $WORK/e2e.env, not the caller's.
compose_env() {
    env -u POSTGRES_USER -u POSTGRES_PASSWORD -u POSTGRES_DB -u POSTGRES_PORT -u RUST_LOG \
        -u PIPELINE_REPORTS -u COMPOSE_FILE "$@"
}
compose() {
    compose_env docker-compose -p "$PROJECT" --project-directory "$REPO" -f "$REPO/docker-compose.yml" \
        --env-file "$WORK/e2e.env" "$@"
}
# The opt-in that publishes the database, on the free port $DB_PORT.
compose_db_port() {
    compose_env POSTGRES_PORT="$DB_PORT" \
        docker-compose -p "$PROJECT" --project-directory "$REPO" -f "$REPO/docker-compose.yml" \
        -f "$REPO/docker-compose.db-port.yml" --env-file "$WORK/e2e.env" "$@"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The stack must start where PostgreSQL already listens on the host's 5432,
# as on most data engineers' machines: if nothing does here, a listener that
# this script starts (and stops at the end) takes the port.
HOST_PG_PORT=5432
host_port_taken() {
    local who
    if port_free "$HOST_PG_PORT"; then
        perl -MSocket -e '
            socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
            setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
            bind($s, sockaddr_in($ARGV[0], INADDR_LOOPBACK)) or die "bind: $!\n";
            listen($s, SOMAXCONN) or die "listen: $!\n";
            while (accept(my $c, $s)) { close $c }' "$HOST_PG_PORT" 2>"$WORK/holder.log" &
        port_holder=$!
        local i
        for i in $(seq 1 20); do
            port_free "$HOST_PG_PORT" || break
            kill -0 "$port_holder" 2>/dev/null || break
            sleep 0.5
        done
        who="a listener started by this script, pid $port_holder"
    else
        who=$(ss -Hltnp "sport = :$HOST_PG_PORT" 2>/dev/null | grep -o 'users:(("[^"]*"' | head -n 1 | cut -d'"' -f2)
        who="already there: ${who:-a process of this machine}"
    fi
    if port_free "$HOST_PG_PORT"; then
        show "$WORK/holder.log"
        say_fail "could not take 127.0.0.1:$HOST_PG_PORT before the stack starts"
        return 1
    fi
    log "127.0.0.1:$HOST_PG_PORT is in use ($who)"
}

# The compose file's defaults (no POSTGRES_PORT: the default publishes no
# port); for the opt-in, a host port that is free here.
DB_USER=pipeline DB_PASSWORD=pipeline DB_NAME=ecommerce
prepare_env() {
    DB_PORT=55432
    while ! port_free "$DB_PORT"; do
        DB_PORT=$((DB_PORT + 1))
        [ "$DB_PORT" -lt 55500 ] || {
            say_fail "no free port in 55432..55499"
            return 1
        }
    done
    cat >"$WORK/e2e.env" <<EOF
POSTGRES_USER=$DB_USER
POSTGRES_PASSWORD=$DB_PASSWORD
POSTGRES_DB=$DB_NAME
RUST_LOG=info
PIPELINE_REPORTS=$WORK/reports
EOF
    # The demo writes its report there as the image's user (uid 10001).
    as_root install -d -o 10001 -g 10001 "$WORK/reports"
    # Leftovers of an interrupted earlier run, the profile cluster's included.
    compose --profile cluster down -v --remove-orphans >/dev/null 2>&1
    log "compose project $PROJECT; when asked, the database is published on 127.0.0.1:$DB_PORT"
}

container_of() { compose ps -q "$1" | head -n 1; }

wait_healthy() {
    local id status i
    id=$(container_of db)
    [ -n "$id" ] || {
        say_fail "no db container"
        return 1
    }
    for i in $(seq 1 120); do
        status=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
        if [ "$status" = healthy ]; then
            log "db healthy after ${i} s"
            return 0
        fi
        [ "$status" = unhealthy ] && break
        sleep 1
    done
    say_fail "db not healthy (status: ${status:-none})"
    show <(compose logs --no-color --tail 20 db)
    return 1
}

db_up() {
    compose up -d db >"$WORK/up.log" 2>&1 || {
        show "$WORK/up.log"
        return 1
    }
    wait_healthy
}

psql_db() { compose exec -T db psql -v ON_ERROR_STOP=1 -U "$DB_USER" -d "$DB_NAME" -Atq "$@"; }

# A container's published ports: "5432/tcp=IP:PORT ...", empty if none.
bindings_of() {
    docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{$p}}={{.HostIp}}:{{.HostPort}} {{end}}{{end}}' "$1"
}
db_bindings() { bindings_of "$(container_of db)"; }

# By default nothing is published: nothing to clash with the host's 5432.
db_port_unpublished() {
    local bindings
    bindings=$(db_bindings) || return 1
    if [ -n "$bindings" ]; then
        say_fail "the db service publishes $bindings by default; it must publish nothing unless asked"
        return 1
    fi
    port_free "$HOST_PG_PORT" && {
        say_fail "127.0.0.1:$HOST_PG_PORT is no longer in use"
        return 1
    }
    log "published: nothing (127.0.0.1:$HOST_PG_PORT stays in use by its own server)"
}

# Asked for with docker-compose.db-port.yml: the same db, now published on
# 127.0.0.1:$DB_PORT only.
db_port_opt_in() {
    compose_db_port up -d db >"$WORK/up.log" 2>&1 || {
        show "$WORK/up.log"
        return 1
    }
    wait_healthy || return 1
    local bindings
    bindings=$(db_bindings) || return 1
    log "with docker-compose.db-port.yml, published: ${bindings:-nothing}"
    if [ "${bindings% }" != "5432/tcp=127.0.0.1:$DB_PORT" ]; then
        say_fail "the database port must be published on 127.0.0.1:$DB_PORT only"
        return 1
    fi
    # From the host's loopback, with the password over TCP (psql of the db
    # image, on the host's network), and refused with a wrong one.
    local probe="docker run --rm --network host --entrypoint psql $POSTGRES_IMAGE"
    if ! PGPASSWORD=x $probe "postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$DB_PORT/$DB_NAME" -Atc 'select 1' >"$WORK/probe" 2>&1; then
        show "$WORK/probe"
        say_fail "cannot log in on 127.0.0.1:$DB_PORT with the password"
        return 1
    fi
    if $probe "postgresql://$DB_USER:wrong@127.0.0.1:$DB_PORT/$DB_NAME" -Atc 'select 1' >"$WORK/probe" 2>&1; then
        say_fail "a wrong password was accepted"
        return 1
    fi
    log "127.0.0.1:$DB_PORT takes the password and refuses a wrong one"
}

# Runs the pipeline service once; its output (stdout and stderr) is in $OUT.
pipeline_run() {
    compose run --rm -T pipeline "$@" >"$OUT" 2>&1
}

expect_in_output() { # description, extended regex
    if grep -qE "$2" "$OUT"; then
        return 0
    fi
    say_fail "the output does not show $1"
    return 1
}

demo() {
    if ! pipeline_run; then
        show "$OUT"
        say_fail "docker-compose run --rm pipeline exited non-zero"
        return 1
    fi
    show <(grep -v 'INFO\|DEBUG' "$OUT")
    local ok=0 ds
    for ds in customers products orders order_items; do
        expect_in_output "the loaded count of $ds" "^│ *$ds +┆ [^┆]+┆ +[0-9]+ +┆ +[0-9]+ " || ok=1
    done
    expect_in_output "the days computed" '^customer_daily_stats: computed ' || ok=1
    expect_in_output "the top customers" '^top [0-9]+ customers by ' || ok=1
    expect_in_output "the repeaters" 'repeaters_by_orders +┆ +[0-9]+' || ok=1
    return $ok
}

# A checksum of every table's content: the ledger of runs aside (a rerun adds
# its entries), and each stats row without the run that wrote it.
CHECKSUM_SQL="
select string_agg(t || ' ' || n || ' ' || h, E'\n' order by t) from (
  select 'customers' t, count(*) n, md5(coalesce(string_agg(to_jsonb(x)::text, ',' order by customer_id), '')) h from customers x
  union all select 'products', count(*), md5(coalesce(string_agg(to_jsonb(x)::text, ',' order by product_id), '')) from products x
  union all select 'orders', count(*), md5(coalesce(string_agg(to_jsonb(x)::text, ',' order by order_id), '')) from orders x
  union all select 'order_items', count(*), md5(coalesce(string_agg(to_jsonb(x)::text, ',' order by order_id, order_item_id), '')) from order_items x
  union all select 'customer_daily_stats', count(*), md5(coalesce(string_agg((to_jsonb(x) - 'run_id' - 'computed_at')::text, ',' order by stat_date, customer_unique_id), '')) from customer_daily_stats x
) s"
checksum() { psql_db -c "$CHECKSUM_SQL"; }

FIRST_SUM=""
record_checksum() {
    FIRST_SUM=$(checksum) || return 1
    show <(printf '%s\n' "$FIRST_SUM")
    [ -n "$FIRST_SUM" ]
}
same_checksum() { # what happened since
    local now
    now=$(checksum) || return 1
    if [ "$now" != "$FIRST_SUM" ]; then
        say_fail "the tables changed after $1:"
        show <(diff <(printf '%s\n' "$FIRST_SUM") <(printf '%s\n' "$now"))
        return 1
    fi
    log "the tables are the same after $1"
}

# The demo's report lands in the mounted folder: one HTML page with its charts.
report_in_folder() {
    local page=$WORK/reports/report.html
    if [ ! -s "$page" ]; then
        show "$OUT"
        say_fail "no report at $page after the demo"
        return 1
    fi
    local charts
    charts=$(grep -o '<svg' "$page" | wc -l)
    if [ "$charts" -lt 6 ] || grep -qE '<script|https?://[^"]*\.(js|css)' "$page"; then
        say_fail "the report has $charts charts, or loads something from outside"
        return 1
    fi
    log "report.html: $(($(wc -c <"$page") / 1024)) KB, $charts charts, in the mounted folder"
}

# The freshness probe works inside the container: up to date after the demo.
status_check() {
    pipeline_run status --check || {
        show "$OUT"
        say_fail "status --check exited non-zero after the demo"
        return 1
    }
    expect_in_output "that the statistics are up to date" '^customer_daily_stats: up to date' || return 1
    log "status --check: up to date"
}

rerun_changes_nothing() {
    pipeline_run || {
        show "$OUT"
        return 1
    }
    same_checksum "a second docker-compose run --rm pipeline"
}

# Results leave the container on stdout; -T (no terminal) keeps the lines as
# they are (a terminal would end them with CR LF).
results_on_stdout() {
    compose run --rm -T pipeline top-customers --limit 3 --format csv >"$OUT" 2>"$WORK/stderr" || {
        show "$OUT" "$WORK/stderr"
        return 1
    }
    show "$OUT"
    if [ "$(wc -l <"$OUT")" -ne 4 ] || ! head -n 1 "$OUT" | grep -q '^rank,customer_unique_id,' || grep -q $'\r' "$OUT"; then
        say_fail "expected a CSV header and 3 rows, with plain line ends"
        return 1
    fi
}

# Plain docker run against a server that exists already: here the compose
# database through the loopback port the opt-in published, in a database of
# its own that the pipeline creates.
existing_database() {
    local url="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$DB_PORT/e2e_existing"
    local ok=0
    docker run --rm --network host -e DATABASE_URL="$url" pipeline:latest run >"$OUT" 2>&1 || ok=1
    [ $ok -eq 0 ] && expect_in_output "the days computed" '^customer_daily_stats: computed ' || ok=1
    [ $ok -eq 0 ] && docker run --rm --network host -e DATABASE_URL="$url" pipeline:latest repeaters --format json >"$OUT" 2>&1 || ok=1
    [ $ok -eq 0 ] && expect_in_output "the repeaters" '"repeaters_by_orders": [0-9]+' || ok=1
    if [ $ok -ne 0 ]; then
        show "$OUT"
        say_fail "docker run with DATABASE_URL=$url"
    else
        log "docker run --network host -e DATABASE_URL=$url pipeline:latest run, then repeaters: ok"
    fi
    psql_db -c 'DROP DATABASE IF EXISTS e2e_existing' || ok=1
    return $ok
}

bundled_sample() {
    local files
    files=$(docker run --rm --entrypoint ls pipeline:latest /app/datasets/sample | tr '\n' ' ')
    log "in the image, /app/datasets/sample: $files"
    case "$files" in
    *olist_customers_dataset.csv*olist_order_items_dataset.csv*olist_orders_dataset.csv*olist_products_dataset.csv*) ;;
    *)
        say_fail "the bundled sample is incomplete"
        return 1
        ;;
    esac
    # In the compose service, the demo's data dir is the bundled one, not
    # under the mount; the mounted datasets/ are next to it.
    compose run --rm -T --entrypoint sh pipeline -c \
        'grep -c " /app/datasets" /proc/self/mountinfo || true; ls /data' >"$OUT" 2>"$WORK/stderr" || {
        show "$OUT" "$WORK/stderr"
        return 1
    }
    if [ "$(head -n 1 "$OUT")" != 0 ]; then
        say_fail "something is mounted over /app/datasets in the pipeline service"
        return 1
    fi
    log "pipeline service: nothing mounted over /app/datasets; /data holds: $(tail -n +2 "$OUT" | tr '\n' ' ')"
}

mounted_datasets() {
    # The repository's datasets/ is mounted at /data: the sample there passes
    # validate (files present and readable, headers right).
    pipeline_run --data-dir /data/sample validate || {
        show "$OUT"
        say_fail "validate --data-dir /data/sample failed in the pipeline service"
        return 1
    }
    log "validate --data-dir /data/sample: ok"
    # Without a datasets/ next to the compose file, the demo still runs on the
    # bundled sample (docker creates an empty folder to mount).
    local alone=$WORK/alone
    mkdir -p "$alone"
    cp "$REPO/docker-compose.yml" "$alone/"
    compose_env docker-compose -p "$PROJECT" --project-directory "$alone" -f "$alone/docker-compose.yml" \
        --env-file "$WORK/e2e.env" run --rm -T pipeline >"$OUT" 2>&1 || {
        show "$OUT"
        say_fail "the demo failed with no datasets/ next to docker-compose.yml"
        return 1
    }
    expect_in_output "the repeaters" 'repeaters_by_orders +┆ +[0-9]+' || return 1
    log "with no datasets/ next to docker-compose.yml, the demo ran on the bundled sample"
    same_checksum "the demo without datasets/"
}

down_up_keeps_data() {
    compose down >"$WORK/down.log" 2>&1 || {
        show "$WORK/down.log"
        return 1
    }
    db_up || return 1
    same_checksum "docker-compose down and up"
}

scheduler() {
    compose up -d scheduler >"$WORK/up.log" 2>&1 || {
        show "$WORK/up.log"
        return 1
    }
    local id i
    id=$(container_of scheduler)
    # It catches up the missed days (at most max_catch_up_days), then waits.
    for i in $(seq 1 300); do
        compose logs --no-color scheduler >"$OUT" 2>&1
        grep -q 'waiting for the next scheduled run' "$OUT" && break
        [ "$(docker inspect -f '{{.State.Running}}' "$id")" = true ] || break
        sleep 1
    done
    if ! grep -q 'waiting for the next scheduled run' "$OUT"; then
        show <(tail -n 30 "$OUT")
        say_fail "the scheduler did not log its next run"
        return 1
    fi
    log "started; $(grep -o 'waiting for the next scheduled run.*' "$OUT" | sed 's/\x1b\[[0-9;]*m//g' | head -n 1) (after ${i} s)"
    local grace t0=$SECONDS
    grace=$(compose config | awk '/^  scheduler:/ { s = 1 } s && /stop_grace_period:/ { print $2; exit }')
    compose stop scheduler >"$WORK/stop.log" 2>&1 || {
        show "$WORK/stop.log"
        return 1
    }
    local took=$((SECONDS - t0)) code
    code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
    log "docker-compose stop: stopped in $took s (grace period ${grace:-10s}), exit code $code"
    compose logs --no-color scheduler >"$OUT" 2>&1
    if [ "$code" != 0 ] || ! grep -q 'shutdown requested' "$OUT"; then
        show <(tail -n 10 "$OUT")
        say_fail "the scheduler did not stop by itself on SIGTERM (exit code $code)"
        return 1
    fi
}

# ---- 5. the profile cluster ------------------------------------------------
# The image pipeline-cluster:latest is made from a binary built here with the
# feature ballista (CI's test run builds it), not from the Dockerfile: a cold
# release build of the feature in the image takes 20 to 40 minutes.
CLUSTER_BINARY=${E2E_CLUSTER_BINARY:-$REPO/target/debug/pipeline}
CLUSTER_IMAGE=pipeline-cluster:latest
cluster() { compose --profile cluster "$@"; }

# Why the binary cannot make the cluster image, or nothing. A build without
# the feature has the subcommand too, but its roles refuse to serve: asked to
# serve with a heartbeat timeout too short to start (a usage error in a build
# with the feature), it says so.
cluster_binary_problem() {
    if [ ! -x "$CLUSTER_BINARY" ]; then
        echo "no binary at $CLUSTER_BINARY (cargo build -p pipeline --features ballista, or set E2E_CLUSTER_BINARY)"
        return
    fi
    if ! "$CLUSTER_BINARY" cluster scheduler --help >/dev/null 2>&1; then
        echo "$CLUSTER_BINARY cluster scheduler --help fails: not a pipeline with the cluster roles"
        return
    fi
    if timeout 10 "$CLUSTER_BINARY" cluster scheduler --bind 127.0.0.1 --port 1 --executor-timeout-secs 1 2>&1 |
        grep -q 'built without the cluster roles'; then
        echo "$CLUSTER_BINARY was built without the feature ballista (cargo build -p pipeline --features ballista)"
    fi
}

# Decided once, before the steps: without a usable binary the cluster steps
# fail under CI (CI set, and not to "false"; the first step says why) and are
# skipped, in one line, elsewhere.
CLUSTER_PROBLEM=""
cluster_steps_wanted() {
    CLUSTER_PROBLEM=$(cluster_binary_problem)
    [ -z "$CLUSTER_PROBLEM" ] && return 0
    case "${CI:-}" in
    "" | false) ;;
    *) return 0 ;;
    esac
    echo "==> cluster steps skipped: $CLUSTER_PROBLEM (under CI=true they fail)"
    summary+=("$(printf '%-6s %5s  %s' skip - "cluster: $CLUSTER_PROBLEM")")
    return 1
}

# The build context: the prebuilt Dockerfile, the binary without its debug
# sections (as the release profile's strip = debuginfo leaves it; function
# names stay), the configurations and the bundled sample.
cluster_image() {
    if [ -n "$CLUSTER_PROBLEM" ]; then
        say_fail "$CLUSTER_PROBLEM"
        return 1
    fi
    local ctx=$WORK/cluster-ctx t0=$SECONDS old
    old=$(image_id "$CLUSTER_IMAGE")
    mkdir -p "$ctx/datasets"
    cp "$REPO/docker/cluster-prebuilt.Dockerfile" "$ctx/Dockerfile"
    cp "$REPO/pipeline.toml" "$REPO/pipeline.cluster.toml" "$ctx/"
    cp -r "$REPO/datasets/sample" "$ctx/datasets/"
    if ! objcopy --strip-debug "$CLUSTER_BINARY" "$ctx/pipeline" 2>"$WORK/strip.log"; then
        log "objcopy --strip-debug failed ($(head -n 1 "$WORK/strip.log")); the binary goes in as it is"
        cp "$CLUSTER_BINARY" "$ctx/pipeline"
    fi
    log "$CLUSTER_BINARY: $(($(stat -c %s "$CLUSTER_BINARY") / 1000000)) MB, $(($(stat -c %s "$ctx/pipeline") / 1000000)) MB without debug sections"
    if ! docker build -t "$CLUSTER_IMAGE" "$ctx" >"$WORK/cluster-build.log" 2>&1; then
        show <(tail -n 30 "$WORK/cluster-build.log")
        return 1
    fi
    rm -rf "$ctx"
    log "built $CLUSTER_IMAGE from docker/cluster-prebuilt.Dockerfile in $((SECONDS - t0)) s: $(image_mb "$CLUSTER_IMAGE") MB"
    remove_replaced "$old"
    # It runs on the image's glibc, as the image's non-root user.
    local uid
    uid=$(docker run --rm --entrypoint id "$CLUSTER_IMAGE" -u) &&
        docker run --rm "$CLUSTER_IMAGE" --version >"$OUT" 2>&1 || {
        show "$OUT"
        say_fail "the binary does not run in $CLUSTER_IMAGE"
        return 1
    }
    log "in the image: $(head -n 1 "$OUT"), uid $uid"
    [ "$uid" != 0 ] || {
        say_fail "$CLUSTER_IMAGE runs as root"
        return 1
    }
}

CLUSTER_ROLES=(ballista-scheduler executor-1 executor-2)
cluster_up() {
    cluster up -d --no-build "${CLUSTER_ROLES[@]}" >"$WORK/up.log" 2>&1 || {
        show "$WORK/up.log"
        return 1
    }
    # Each executor registers with the scheduler under its service name (the
    # name the pipeline fetches results by); the scheduler logs the request,
    # the executor the success.
    local i service id registered="" scheduler_id
    local -A ids=()
    for service in "${CLUSTER_ROLES[@]}"; do
        ids[$service]=$(container_of "$service")
    done
    scheduler_id=${ids[ballista-scheduler]}
    for i in $(seq 1 90); do
        registered=yes
        for service in executor-1 executor-2; do
            docker logs "${ids[$service]}" 2>&1 | grep -q 'Executor registration succeed' &&
                docker logs "$scheduler_id" 2>&1 |
                grep -q "Received register executor request for .*host: Some(\"$service\")" ||
                registered=""
        done
        [ -n "$registered" ] && break
        sleep 1
    done
    for service in "${CLUSTER_ROLES[@]}"; do
        id=${ids[$service]}
        if [ -z "$id" ] || [ "$(docker inspect -f '{{.State.Running}}' "$id")" != true ]; then
            show <(cluster logs --no-color --tail 20 "$service")
            say_fail "$service is not running"
            return 1
        fi
        if [ -n "$(bindings_of "$id")" ]; then
            say_fail "$service publishes $(bindings_of "$id"); Ballista has no authentication, it must publish nothing"
            return 1
        fi
    done
    if [ -z "$registered" ]; then
        show <(cluster logs --no-color --tail 30 "${CLUSTER_ROLES[@]}")
        say_fail "the executors did not register with the scheduler as executor-1 and executor-2 within 90 s"
        return 1
    fi
    log "running: ${CLUSTER_ROLES[*]}, no port published; both executors registered (after ${i} s):"
    docker logs "$scheduler_id" 2>&1 | grep -o 'Received register executor request for .*host: Some("[^"]*"), port: [0-9]*' |
        sed -E 's/.*id: "([^"]*)".*host: Some\("([^"]*)"\), port: ([0-9]*)/\2:\3 (executor \1)/' | sed 's/^/      /'
}

# The volume is the same one at /snapshots in the pipeline service and in
# every executor, and the pipeline's user can write there (it takes the
# image's /snapshots, owned by uid 10001, when first mounted).
snapshot_volume() {
    local volume=${PROJECT}_snapshots service id where
    for service in executor-1 executor-2; do
        id=$(container_of "$service")
        where=$(docker inspect -f "{{range .Mounts}}{{if eq .Name \"$volume\"}}{{.Destination}}{{end}}{{end}}" "$id")
        if [ "$where" != /snapshots ]; then
            say_fail "$service does not mount the volume $volume at /snapshots (found: ${where:-nothing})"
            return 1
        fi
    done
    cluster run --rm -T --no-deps --entrypoint sh pipeline-cluster -c \
        'grep " /snapshots " /proc/self/mountinfo >/dev/null && touch /snapshots/.probe && rm /snapshots/.probe && id -u' \
        >"$OUT" 2>&1 || {
        show "$OUT"
        say_fail "pipeline-cluster cannot write in /snapshots"
        return 1
    }
    log "volume $volume at /snapshots in executor-1 and executor-2, writable by pipeline-cluster (uid $(tail -n 1 "$OUT"))"
}

# customer_daily_stats of a database, every column but the run that wrote
# the row and when: one JSON object per row, sorted.
stats_rows() { # database
    compose exec -T db psql -v ON_ERROR_STOP=1 -U "$DB_USER" -d "$1" -Atq -c \
        "select (to_jsonb(x) - 'run_id' - 'computed_at')::text from customer_daily_stats x order by 1"
}

# The same backfill of the bundled sample twice, each into a new database:
# on the cluster (pipeline.cluster.toml), then with the postgres engine
# (pipeline.toml, the same image); the two tables agree in every row and
# column.
CLUSTER_DBS=(e2e_cluster_ballista e2e_cluster_postgres)
cluster_backfill() {
    local db
    for db in "${CLUSTER_DBS[@]}"; do
        psql_db -c 'SET client_min_messages TO warning' -c "DROP DATABASE IF EXISTS $db" || return 1
    done
    local url="postgres://$DB_USER:$DB_PASSWORD@db:5432"
    local jobs_before t0=$SECONDS
    jobs_before=$(cluster logs --no-color ballista-scheduler 2>&1 | grep -c 'Job finished successfully')
    cluster run --rm -T -e DATABASE_URL="$url/${CLUSTER_DBS[0]}" pipeline-cluster run >"$OUT" 2>&1 || {
        show "$OUT"
        say_fail "the backfill on the cluster exited non-zero"
        return 1
    }
    expect_in_output "the days computed" '^customer_daily_stats: computed ' || {
        show "$OUT"
        return 1
    }
    log "on the cluster ($((SECONDS - t0)) s): $(grep -m 1 '^customer_daily_stats: computed ' "$OUT")"
    local jobs
    jobs=$(cluster logs --no-color ballista-scheduler 2>&1 | grep -c 'Job finished successfully')
    if [ "$jobs" -le "$jobs_before" ]; then
        say_fail "the scheduler finished no job during the backfill: the cluster did not compute it"
        return 1
    fi
    log "the scheduler finished $((jobs - jobs_before)) job(s) meanwhile"
    t0=$SECONDS
    cluster run --rm -T --no-deps -e PIPELINE_CONFIG=/app/pipeline.toml -e DATABASE_URL="$url/${CLUSTER_DBS[1]}" \
        pipeline-cluster run >"$OUT" 2>&1 || {
        show "$OUT"
        say_fail "the backfill with the postgres engine exited non-zero"
        return 1
    }
    log "with the postgres engine ($((SECONDS - t0)) s): $(grep -m 1 '^customer_daily_stats: computed ' "$OUT")"
    stats_rows "${CLUSTER_DBS[0]}" >"$WORK/stats-ballista" &&
        stats_rows "${CLUSTER_DBS[1]}" >"$WORK/stats-postgres" || return 1
    local rows
    rows=$(wc -l <"$WORK/stats-postgres")
    if [ "$rows" -eq 0 ]; then
        say_fail "the postgres engine wrote no customer_daily_stats rows"
        return 1
    fi
    if ! diff "$WORK/stats-postgres" "$WORK/stats-ballista" >"$WORK/stats.diff"; then
        say_fail "customer_daily_stats differ (< postgres, > ballista; $(grep -c '^<' "$WORK/stats.diff") and $(grep -c '^>' "$WORK/stats.diff") rows):"
        show <(head -n 20 "$WORK/stats.diff")
        return 1
    fi
    log "customer_daily_stats: the same $rows rows, every column, from both engines"
    for db in "${CLUSTER_DBS[@]}"; do
        psql_db -c "DROP DATABASE IF EXISTS $db" || return 1
    done
}

# ---- 6. teardown -----------------------------------------------------------
# With the profile, so that its containers and volume go too.
teardown() {
    [ -f "$WORK/e2e.env" ] || {
        log "no stack was started"
        return 0
    }
    cluster down -v --remove-orphans >"$WORK/down.log" 2>&1 || {
        show "$WORK/down.log"
        return 1
    }
    local volume left
    for volume in pgdata snapshots; do
        if docker volume ls -q | grep -qx "${PROJECT}_$volume"; then
            say_fail "the volume ${PROJECT}_$volume is still there"
            return 1
        fi
    done
    left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
    if [ "$left" -ne 0 ]; then
        say_fail "$left container(s) of $PROJECT are still there"
        return 1
    fi
    log "containers, network and volumes (pgdata, snapshots) removed"
}

# ---- the end ---------------------------------------------------------------
cleanup() {
    if [ -f "$WORK/e2e.env" ] && docker info >/dev/null 2>&1; then
        cluster down -v --remove-orphans >/dev/null 2>&1
    fi
    if [ -n "$started_dockerd" ] && [ -z "${E2E_KEEP_ENGINE:-}" ]; then
        as_root kill "$started_dockerd" 2>/dev/null
        local i
        for i in $(seq 1 30); do
            kill -0 "$started_dockerd" 2>/dev/null || break
            sleep 1
        done
    fi
    if [ -n "$port_holder" ]; then
        kill "$port_holder" 2>/dev/null
        wait "$port_holder" 2>/dev/null
    fi
    as_root rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the steps -------------------------------------------------------------
# Add a check as one `step "what it checks" function` line, in the order it
# needs (see the top of this file).
T0=$SECONDS
step_needed "engine: installed and running" engine
step_needed "base images: present or stand-ins built" base_images
step_needed "host: 127.0.0.1:5432 in use, as where PostgreSQL runs" host_port_taken
step_needed "stack: project environment" prepare_env
step_needed "image: built from the Dockerfile" build_image
step "image: at most 200 MB" image_size
step "image: runs as a non-root user" image_user
step_needed "db starts and becomes healthy, with the host's 5432 taken" db_up
step "db port: none published by default" db_port_unpublished
step_needed "demo: docker-compose run --rm pipeline" demo
step_needed "tables: checksum after the demo" record_checksum
step "report: the demo's report.html in the mounted folder" report_in_folder
step "status --check: up to date inside the container" status_check
step "rerun: a second demo changes nothing" rerun_changes_nothing
step "results: CSV on stdout with docker-compose run -T" results_on_stdout
step "db port: when asked, published on the loopback only" db_port_opt_in
step "existing database: docker run with DATABASE_URL" existing_database
step "data sets: the bundled sample in the image and service" bundled_sample
step "data sets: the mounted datasets/ and none" mounted_datasets
step "volume: down then up keeps the data" down_up_keeps_data
step "scheduler: starts, logs its next run, stops within its grace" scheduler
if cluster_steps_wanted; then
    step_needed "cluster image: pipeline-cluster:latest from the prebuilt binary" cluster_image
    step_needed "cluster: scheduler and two executors up, registered, no port published" cluster_up
    step "cluster: the snapshot volume at /snapshots in the pipeline and executors" snapshot_volume
    step "cluster: a backfill on it equals the postgres engine's, every row and column" cluster_backfill
fi
aborted=""
step "teardown: docker-compose --profile cluster down -v" teardown

echo
echo "docker end-to-end steps ($((SECONDS - T0)) s in all):"
printf '  %s\n' "${summary[@]}"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
