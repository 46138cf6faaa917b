# syntax=docker/dockerfile:1
# The `redline` binary in a minimal non-root image: no shell, no package manager.
#   docker build -t redline:dev .        (hack/k3d-image.sh builds and loads it into k3d/kind)

FROM rust:1-bookworm AS build
WORKDIR /src
# The rustls TLS stack and the vendored protobuf compiler (protox) need no system
# libraries, so the toolchain image is all the build needs.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p redline --locked \
 && cp target/release/redline /redline

# distroless/cc: glibc and libgcc for a Rust binary, nothing else; `nonroot` is uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /redline /redline
# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd lookup.
USER 65532:65532
# The admin server (/metrics, /ready, /live) of every daemon.
EXPOSE 9470
ENTRYPOINT ["/redline"]
