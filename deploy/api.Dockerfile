# swapd API: a static Go binary; it never loads a model, so no ONNX Runtime here.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/api ./cmd/api && CGO_ENABLED=0 go build -trimpath -o /out/swapctl ./cmd/swapctl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/api /out/swapctl /usr/local/bin/
ENV SWAPD_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/api"]
