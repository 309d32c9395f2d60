# syntax=docker/dockerfile:1
# One image with both programs: `publisher` and `replicator` in /usr/local/bin.
#   docker build -t pgfanout:dev .
#   docker run --rm pgfanout:dev publisher --help

# ---- build: static binaries --------------------------------------------------
# Pinned to exactly the toolchain go.mod names (its `toolchain` line, else its `go`
# line; internal/deploycheck checks they agree): the official image sets
# GOTOOLCHAIN=local, so it builds with this Go and never downloads another.
FROM golang:1.26.8-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: fully static, so the distroless "static" base (no libc) works.
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/ ./publisher ./replicator

# ---- runtime -----------------------------------------------------------------
# No shell, no package manager; CA certificates and /etc/passwd entries included.
# Debian 13 (trixie), the current stable release.
FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/publisher /out/replicator /usr/local/bin/
# Plain-SQL copies for operators who apply migrations / demo schema by hand
# (`publisher migrate` uses its embedded copy of migrations/).
COPY migrations/ /usr/share/pgfanout/migrations/
COPY deploy/demo/ /usr/share/pgfanout/demo/
# Numeric uid:gid (distroless "nonroot") so runAsNonRoot-style checks can verify it.
USER 65532:65532
# 9187: publisher /healthz + /metrics, 9188: replicator, 9189: `publisher status
# --listen` (each when bound to 0.0.0.0).
EXPOSE 9187 9188 9189
CMD ["publisher"]
