package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// EmbeddingCache keeps source-face embeddings in Redis by the content hash of the
// source file, so a source used again (the same selfie on many targets) costs no
// detection and no recognition. Entries are per recognizer model: Model must change
// whenever the recognizer does.
type EmbeddingCache struct {
	Redis redis.UniversalClient
	Model string        // identifies the recognizer, e.g. its file name and size
	TTL   time.Duration // default 7 days
}

// ContentHash names a source file's bytes.
func ContentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (c *EmbeddingCache) key(hash string) string { return "swapd:emb:" + c.Model + ":" + hash }

// Get returns the cached embedding of the largest face of the file with hash.
func (c *EmbeddingCache) Get(ctx context.Context, hash string) ([]float32, bool) {
	if c == nil {
		return nil, false
	}
	b, err := c.Redis.Get(ctx, c.key(hash)).Bytes()
	if err != nil || len(b) == 0 || len(b)%4 != 0 {
		return nil, false
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return v, true
}

// Put stores an embedding. A failure only costs a recomputation later.
func (c *EmbeddingCache) Put(ctx context.Context, hash string, v []float32) {
	if c == nil {
		return
	}
	b := make([]byte, len(v)*4)
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[i*4:], math.Float32bits(x))
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	c.Redis.Set(ctx, c.key(hash), b, ttl)
}
