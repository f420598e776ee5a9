package embedded

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var bucketSecrets = []byte("secrets")

// SharedSecret returns the secret stored under name, storing fresh first when there is none:
// the first caller's value is the one every later call returns, across restarts.
func (s *Store) SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, fmt.Errorf("shared secret %q: empty value", name)
	}
	var out []byte
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSecrets)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
			return nil
		}
		out = bytes.Clone(fresh)
		return b.Put([]byte(name), out)
	})
	if err != nil {
		return nil, fmt.Errorf("shared secret %q: %w", name, err)
	}
	return out, nil
}
