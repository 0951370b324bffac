# balas: the release binary on a distroless glibc base, run as an unprivileged user.
#
#   docker build -t balas .
#   docker run --rm -p 8080:8080 -e BALAS_FERNET_KEYS=… -e BALAS_INDEX_KEY=… -e BALAS_AUDIT_KEY=… \
#       -v balas-data:/data balas                                    # SQLite in /data, keys apart
#   docker run --rm -e BALAS_DATABASE_URL=… -e BALAS_DATABASE_OWNER_URL=… balas migrate
#
# Builder and runtime are both Debian 12 (bookworm): the binary links the runtime's glibc.
# The image names are build arguments only so that a mirror or a pinned digest can replace them.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# Dependencies first, against stub sources: this layer is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in prompt analytics ingest reply pg_restart; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo build --release --locked --bin balas \
    && rm -rf src benches
COPY . .
# COPY keeps the context's timestamps, which may be older than the stub build: force a rebuild.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin balas \
    && mkdir -p /data

FROM ${RUNTIME_IMAGE}
# distroless "nonroot" is uid/gid 65532; /data is where the default SQLite file lives.
COPY --from=builder --chown=65532:65532 /data /data
COPY --from=builder /src/target/release/balas /usr/local/bin/balas
WORKDIR /data
# Keys come from the environment, never generated into /data: a backup of the volume must not
# carry the keys that unlock it (create them with `balas keys generate`).
ENV BALAS_LISTEN=0.0.0.0:8080 \
    BALAS_LOG_FORMAT=json \
    BALAS_FORBID_DEV_KEYS=1
USER 65532:65532
EXPOSE 8080
# serve stops accepting, drains for BALAS_SHUTDOWN_GRACE_SECS (15) and exits on SIGTERM.
STOPSIGNAL SIGTERM
# No HEALTHCHECK: distroless has no shell or curl; the platform probes GET /healthz and /readyz.
ENTRYPOINT ["/usr/local/bin/balas"]
CMD ["serve"]
