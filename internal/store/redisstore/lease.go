package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Leases and sync status (syncer.Store). Keys: P + "lease:" + name (string, the owner, PX
// ttl) and P + "sync:" + code (string, the JSON status). Each is a single key, so both work
// unchanged on Redis Cluster.

func (k keys) lease(name string) string      { return k.prefix + "lease:" + name }
func (k keys) syncStatus(code string) string { return k.prefix + "sync:" + code }

// acquireLua takes KEYS[1] for ARGV[1] when it is free or already ARGV[1]'s, for ARGV[2] ms.
var acquireLua = newScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// AcquireLease takes or renews the lease for owner; it reports whether owner holds it.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	ms := max(ttl.Milliseconds(), 1)
	n, err := s.eval(ctx, acquireLua, []string{s.keys.lease(name)}, []string{owner, strconv.FormatInt(ms, 10)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redis store: lease %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.eval(ctx, releaseLua, []string{s.keys.lease(name)}, []string{owner}).Error(); err != nil {
		return fmt.Errorf("redis store: release lease %q: %w", name, err)
	}
	return nil
}

// LeaseOwner returns who holds the lease, "" when nobody does.
func (s *Store) LeaseOwner(ctx context.Context, name string) (string, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	v, err := s.client.Do(ctx, s.client.B().Get().Key(s.keys.lease(name)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis store: lease %q: %w", name, err)
	}
	return v, nil
}

// PutSyncStatus stores the scheduled sync's status of a cluster, shared by every instance.
func (s *Store) PutSyncStatus(ctx context.Context, code string, status []byte) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Set().Key(s.keys.syncStatus(code)).Value(string(status)).Build()).Error(); err != nil {
		return fmt.Errorf("redis store: sync status of %q: %w", code, err)
	}
	return nil
}

// GetSyncStatus returns the stored status, nil when none was stored.
func (s *Store) GetSyncStatus(ctx context.Context, code string) ([]byte, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	v, err := s.client.Do(ctx, s.client.B().Get().Key(s.keys.syncStatus(code)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: sync status of %q: %w", code, err)
	}
	return v, nil
}
