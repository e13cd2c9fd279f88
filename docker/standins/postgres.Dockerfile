# Stand-in for the official postgres image (e.g. postgres:15), built by
# docker/e2e.sh where no image registry is reachable. It is a test double with
# the parts docker-compose.yml relies on: POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB honoured on an empty volume, the data directory
# /var/lib/postgresql/data, password authentication over the network,
# listening on all interfaces of the container, and pg_isready for the
# healthcheck. The server is Debian's package, not the PostgreSQL project's.
ARG BASE
FROM ${BASE}
ARG PG_MAJOR

# No cluster from the package's postinst: the entrypoint creates one in the
# volume. Docs and translations are left out by the base image's dpkg rules.
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

ENV PG_MAJOR=${PG_MAJOR} \
    PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
