package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Leases and sync status (syncer.Store). One process owns the file, so a lease only ever
// has one contender; it is kept in the file anyway so the store answers like a shared one.
//
//	leases       name → expiry (8 bytes, Unix ns) + owner
//	syncstatus   code → JSON status
var (
	bucketLeases     = []byte("leases")
	bucketSyncStatus = []byte("syncstatus")
)

func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	var held bool
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLeases)
		if err != nil {
			return err
		}
		now := time.Now()
		if v := b.Get([]byte(name)); len(v) >= 8 {
			exp := time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
			if now.Before(exp) && !bytes.Equal(v[8:], []byte(owner)) {
				held = false
				return nil
			}
		}
		val := binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).UnixNano()))
		held = true
		return b.Put([]byte(name), append(val, owner...))
	})
	if err != nil {
		return false, fmt.Errorf("lease %q: %w", name, err)
	}
	return held, nil
}

func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(name)); len(v) >= 8 && bytes.Equal(v[8:], []byte(owner)) {
			return b.Delete([]byte(name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}

func (s *Store) PutSyncStatus(ctx context.Context, code string, status []byte) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSyncStatus)
		if err != nil {
			return err
		}
		return b.Put([]byte(code), status)
	})
	if err != nil {
		return fmt.Errorf("sync status of %q: %w", code, err)
	}
	return nil
}

func (s *Store) GetSyncStatus(ctx context.Context, code string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSyncStatus); b != nil {
			if v := b.Get([]byte(code)); v != nil {
				out = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync status of %q: %w", code, err)
	}
	return out, nil
}
