# mfa-enroll as a container image: built with the same cargo command CI runs (.ci/run),
# run as a non-root user on a small runtime image that has the CA certificates TLS needs.
#
#   docker build -t mfa-enroll:0.1.0 .
#   docker run --rm mfa-enroll:0.1.0 --help
#
# The tag is Cargo.toml's version, the one deploy/kubernetes/*.yaml run.

# The toolchain CI uses; Cargo.lock pins every crate (--locked).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The release profile leaves debug info out (Cargo.toml): the image ships the binary
# `cargo install` installs, as it is built.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/mfa-enroll /usr/local/bin/mfa-enroll

# glibc, libgcc and ca-certificates, no shell; user 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/mfa-enroll /usr/local/bin/mfa-enroll
COPY LICENSE-MIT LICENSE-APACHE /usr/share/doc/mfa-enroll/
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/mfa-enroll"]
CMD ["--help"]
