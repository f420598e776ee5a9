package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"
)

// Shared secrets: P + "secret:" + name, a string without expiry (a single key: unchanged on
// Redis Cluster).
func (k keys) secret(name string) string { return k.prefix + "secret:" + name }

// SharedSecret returns the secret stored under name, storing fresh first when there is none
// (SET NX, then GET, in order on one connection): the first instance's value is the one
// every instance reads.
func (s *Store) SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, fmt.Errorf("redis store: shared secret %q: empty value", name)
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	key := s.keys.secret(name)
	res := s.client.DoMulti(ctx,
		s.client.B().Set().Key(key).Value(string(fresh)).Nx().Build(),
		s.client.B().Get().Key(key).Build())
	if err := res[0].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return nil, fmt.Errorf("redis store: shared secret %q: %w", name, err)
	}
	v, err := res[1].AsBytes()
	if err != nil {
		return nil, fmt.Errorf("redis store: shared secret %q: %w", name, err)
	}
	return v, nil
}
