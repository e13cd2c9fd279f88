# Stand-in for the official Rust image (e.g. rust:1.95-slim-bookworm), built by
# docker/e2e.sh where no image registry is reachable. It is a test double: the
# Dockerfile of the project names the official image, and a machine with
# Docker Hub uses that one.
#
# Context (made by docker/e2e.sh): this file as Dockerfile, toolchain/ (the
# host's rustup toolchain of the version the tag names: bin/, lib/, libexec/,
# without the docs) and ca-certificates.crt (the host's CA bundle, so that
# cargo reaches the crate registry from inside a build).
ARG BASE
FROM ${BASE}

# What the official slim image adds besides Rust: a C compiler and linker
# (rustc links with cc; `ring` compiles C) and the CA bundle.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

# The official image keeps rustup under /usr/local/rustup and cargo's home in
# /usr/local/cargo; here the toolchain is copied as is (no rustup: nothing is
# downloaded) and its bin/ is on the PATH.
COPY toolchain/ /usr/local/rust/
ARG RUST_VERSION
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=${RUST_VERSION} \
    CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt
RUN mkdir -p "$CARGO_HOME" && rustc --version && cargo --version
