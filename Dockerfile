# syntax=docker/dockerfile:1
# Build: cache dependencies in their own layer, then build the binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# tiny_http with one fix of ours (vendor/tiny_http/PATCHED.md), patched in by Cargo.toml.
COPY vendor ./vendor
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY schema.sql ./
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# Run: a small Debian image, an unprivileged user, no shell tools needed for the health check.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home beefirst
COPY --from=build /src/target/release/beefirst /usr/local/bin/beefirst
USER beefirst
ENV BIND_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["beefirst", "--healthcheck"]
ENTRYPOINT ["beefirst"]
