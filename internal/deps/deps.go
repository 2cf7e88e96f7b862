//go:build tools

package deps

import (
	_ "code.dny.dev/ssrf"
	_ "github.com/hibiken/asynq"
	_ "github.com/hibiken/asynqmon"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/yalue/onnxruntime_go"
	_ "golang.org/x/image/webp"
	_ "golang.org/x/sync/semaphore"
	_ "google.golang.org/protobuf/encoding/protowire"
)
