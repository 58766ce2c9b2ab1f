# mfa-enroll as a container image: built with the same cargo command CI runs (.ci/run),
# run as a non-root user on a small runtime image that has the CA certificates TLS needs.
#
#   docker build -t mfa-enroll .
#   docker run --rm mfa-enroll --help

# The toolchain CI uses; Cargo.lock pins every crate (--locked).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The release build keeps line tables, so a panic on a developer's machine names its line;
# the image ships the binary stripped of them and of its symbols (about a fifth of the size).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/mfa-enroll /usr/local/bin/mfa-enroll \
    && strip --strip-all /usr/local/bin/mfa-enroll

# glibc, libgcc and ca-certificates, no shell; user 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/mfa-enroll /usr/local/bin/mfa-enroll
COPY LICENSE-MIT LICENSE-APACHE /usr/share/doc/mfa-enroll/
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/mfa-enroll"]
CMD ["--help"]
