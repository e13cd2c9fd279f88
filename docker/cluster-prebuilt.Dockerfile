# The image of docker-compose.yml's profile `cluster` (pipeline-cluster:latest)
# around a binary built outside the image, so that CI does not build the
# Ballista feature a second time (a cold release build of it takes 20 to 40
# minutes); users build that image from the Dockerfile
# (`docker compose --profile cluster build pipeline-cluster`).
#
# Context, assembled by docker/e2e.sh: this file as Dockerfile, `pipeline`
# (a binary built with the cargo feature `ballista` on Debian 12 bookworm,
# the glibc of the base below), pipeline.toml, pipeline.cluster.toml and
# datasets/sample/.
#
# Below is the Dockerfile's runtime stage, instruction for instruction, except
# where the binary comes from; docker/ci-check.sh checks that they agree.

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

COPY pipeline /usr/local/bin/pipeline
# Configuration (the default pipeline and the cluster profile's) and the
# bundled sample data set, read-only for the app user.
COPY pipeline.toml pipeline.cluster.toml ./
COPY datasets/sample/ ./datasets/sample/

USER pipeline
ENTRYPOINT ["pipeline"]
CMD ["run"]
