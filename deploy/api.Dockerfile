# swapd API: a static Go binary; it never loads a model, so no ONNX Runtime here.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/api ./cmd/api && CGO_ENABLED=0 go build -trimpath -o /out/swapctl ./cmd/swapctl

# A slim Debian with CA certificates (URL inputs and webhooks use TLS), run as nobody.
FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
USER 65534:65534
COPY --from=build /out/api /out/swapctl /usr/local/bin/
ENV SWAPD_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]
