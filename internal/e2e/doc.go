// Package e2e holds swapd's end-to-end tests: the real API and worker (started
// in-process through the same app.RunAPI and app.RunWorker the binaries call) against a
// real redis-server, a real MinIO, the real ONNX Runtime and real face models.
package e2e
