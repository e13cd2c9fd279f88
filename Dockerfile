# Container image of the `pipeline` command-line tool.
#
#   docker build -t pipeline:latest .
#   docker run --rm -e DATABASE_URL=postgres://user:pass@host:5432/db pipeline:latest run
#   docker build --build-arg FEATURES=ballista -t pipeline-cluster:latest .
#
# docker-compose.yml wires it to a PostgreSQL service; its profile `cluster`
# builds the second form (the Ballista cluster roles and engine). docker/e2e.sh
# builds this file and runs the compose stack; docker/ci-check.sh checks both
# files without a container engine. docker/cluster-prebuilt.Dockerfile repeats
# the runtime stage below around a binary built outside the image.

# ---- build stage ----------------------------------------------------------
# Pinned toolchain: the workspace needs rust >= 1.94 (rust-version in Cargo.toml).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The release profile keeps line tables (for profiling); the image's binary
# drops them, which takes it from about 90 MB to about 18 MB. Function names
# stay in backtraces. Set before the dependency layer: both builds use it.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
# Cargo features of the binary, space-separated: empty for the default image,
# `ballista` for the cluster's (a cold build of it takes 20 to 40 minutes).
ARG FEATURES=""

# Dependency layer: the manifests and the lock file with stub sources, so that
# a change to the project's own code does not rebuild every dependency.
COPY Cargo.toml Cargo.lock ./
COPY pipeline/Cargo.toml pipeline/
COPY generator/Cargo.toml generator/
COPY stages/Cargo.toml stages/
COPY migration/Cargo.toml migration/
COPY olist/Cargo.toml olist/
RUN mkdir -p pipeline/src generator/src stages/src migration/src olist/src \
    && echo 'fn main() {}' > pipeline/src/main.rs \
    && touch generator/src/lib.rs stages/src/lib.rs migration/src/lib.rs olist/src/lib.rs \
    && cargo build --release --locked -p pipeline --features "$FEATURES" \
    && rm -rf pipeline/src generator/src stages/src migration/src olist/src

# The real sources; touched so that cargo sees them as newer than the stubs.
COPY pipeline pipeline
COPY generator generator
COPY stages stages
COPY migration migration
COPY olist olist
RUN find pipeline generator stages migration olist -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p pipeline --features "$FEATURES"

# ---- runtime stage --------------------------------------------------------
# TLS is rustls, so ca-certificates is the only system package needed.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# /snapshots: where the compose profile `cluster` mounts its shared volume; a
# new volume takes the directory's owner, so the app user writes there.
RUN groupadd --system --gid 10001 pipeline \
    && useradd --system --uid 10001 --gid pipeline --home-dir /app \
        --no-create-home --shell /usr/sbin/nologin pipeline \
    && install -d -o pipeline -g pipeline /app /reports /snapshots
WORKDIR /app

COPY --from=build /src/target/release/pipeline /usr/local/bin/pipeline
# Configuration (the default pipeline and the cluster profile's) and the
# bundled sample data set, read-only for the app user.
COPY pipeline.toml pipeline.cluster.toml ./
COPY datasets/sample/ ./datasets/sample/

USER pipeline
ENTRYPOINT ["pipeline"]
CMD ["run"]
