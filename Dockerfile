# syntax=docker/dockerfile:1

# builder compiles chatsdk on bookworm, the glibc of the distroless runtime.
FROM rust:1.95-slim-bookworm AS builder

# aws-lc-sys (jsonwebtoken) and bundled SQLite compile C; cmake lets aws-lc-sys
# take its CMake path when its cc-crate build is not enough.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Dependencies first, against stub sources, so editing src/ reuses this layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# The whole tree: src/db/ embeds its migrations with include_str!.
COPY src ./src
# The browser demo page, embedded with include_str! (served only when CHATSDK_DEMO=1).
COPY examples/web/index.html examples/web/app.js examples/web/style.css ./examples/web/
COPY examples/web/vendor ./examples/web/vendor
# COPY keeps the context's mtimes, which can be older than the stub build.
# distroless has no shell to mkdir/chown, so the data dir is made here too.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/chatsdk /out/usr/local/bin/chatsdk \
    && install -d -o 65532 -g 65532 /out/data

# Runtime: glibc and libgcc, no shell or package manager.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=builder /out/usr/local/bin/chatsdk /usr/local/bin/chatsdk
# An empty named volume mounted on /data takes this directory's owner, so the
# nonroot user can create the database and its WAL files there.
COPY --from=builder --chown=65532:65532 /out/data /data

WORKDIR /data
# distroless's nonroot user, numeric so runAsNonRoot checks can verify it.
USER 65532:65532

ENV CHATSDK_ADDR=0.0.0.0:8080 \
    CHATSDK_DATABASE=/data/chatsdk.db

EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/chatsdk", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/chatsdk"]
CMD ["serve"]
