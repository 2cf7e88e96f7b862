// Package e2e holds swapd's end-to-end tests: the real API and worker (started
// in-process through the same apicmd.Run and workercmd.Run the binaries call) against a
// real redis-server, a real MinIO, the real ONNX Runtime and real face models.
package e2e
