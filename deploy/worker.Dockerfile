# swapd worker on NVIDIA GPUs: CUDA 12 + cuDNN 9 runtime, the official ONNX Runtime GPU
# build, ffmpeg for video. ONNX Runtime 1.30 GPU needs CUDA 12.x and cuDNN 9.x.
ARG ORT_VERSION=1.30.0
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# onnxruntime_go loads the library at run time (dlopen); cgo is needed for the bindings.
RUN CGO_ENABLED=1 go build -trimpath -o /out/worker ./cmd/worker && go build -trimpath -o /out/swapctl ./cmd/swapctl

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG ORT_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg ca-certificates curl \
 && curl -fsSL "https://github.com/microsoft/onnxruntime/releases/download/v${ORT_VERSION}/onnxruntime-linux-x64-gpu-${ORT_VERSION}.tgz" \
    | tar -xz -C /opt && ln -s /opt/onnxruntime-linux-x64-gpu-${ORT_VERSION} /opt/onnxruntime \
 && apt-get purge -y curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/worker /out/swapctl /usr/local/bin/
ENV SWAPD_ORT_LIBRARY=/opt/onnxruntime/lib/libonnxruntime.so \
    LD_LIBRARY_PATH=/opt/onnxruntime/lib \
    SWAPD_MODELS_DIR=/models \
    SWAPD_DEVICES=cuda:0
VOLUME /models
ENTRYPOINT ["/usr/local/bin/worker"]
