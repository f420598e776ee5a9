package refresh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Store keeps refresh-token records with an expiry. GetRefresh returns
// directory.ErrNotFound (wrapped) for an unknown or expired key.
type Store interface {
	PutRefresh(ctx context.Context, key, clusterCode string, ttl time.Duration) error
	GetRefresh(ctx context.Context, key string) (clusterCode string, err error)
}

// Key is the storage key of a refresh token: the hex SHA-256 of the token.
func Key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Record is one refresh token handed out: its Key and the cluster that issued it.
type Record struct {
	Key, ClusterCode string
}

// Batcher is implemented by stores that write many records in one operation (one
// transaction, one pipeline), for bulk loads. The token endpoint does not use it: each login's
// record must be stored before its answer leaves (SPEC section 2), so it calls PutRefresh and
// relies on the store to coalesce concurrent writes (bbolt's Batch, Redis pipelining).
type Batcher interface {
	PutRefreshBatch(ctx context.Context, records []Record, ttl time.Duration) error
}
