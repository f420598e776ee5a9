package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refresh"
)

// Expiries are wall-clock Unix nanoseconds, so they stay meaningful across a restart.

// PutRefresh records which cluster issued a refresh token (by key), for ttl.
func (s *Store) PutRefresh(ctx context.Context, key, clusterCode string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("put refresh record: ttl %s: %w", ttl, directory.ErrInvalid)
	}
	v := make([]byte, 8+len(clusterCode))
	binary.BigEndian.PutUint64(v, uint64(time.Now().Add(ttl).UnixNano()))
	copy(v[8:], clusterCode)
	// Batched: one is written per successful login.
	err := s.update(ctx, true, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefresh).Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("put refresh record: %w", err)
	}
	return nil
}

// PutRefreshBatch writes many records in one transaction, in key order so that the B+tree's
// pages are visited once each.
func (s *Store) PutRefreshBatch(ctx context.Context, records []refresh.Record, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("put refresh records: ttl %s: %w", ttl, directory.ErrInvalid)
	}
	sorted := slices.SortedFunc(slices.Values(records), func(a, b refresh.Record) int { return strings.Compare(a.Key, b.Key) })
	expiry := uint64(time.Now().Add(ttl).UnixNano())
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		for _, r := range sorted {
			v := make([]byte, 8+len(r.ClusterCode))
			binary.BigEndian.PutUint64(v, expiry)
			copy(v[8:], r.ClusterCode)
			if err := b.Put([]byte(r.Key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put %d refresh records: %w", len(records), err)
	}
	return nil
}

// GetRefresh returns the cluster code recorded for key; directory.ErrNotFound if unknown or
// expired.
func (s *Store) GetRefresh(ctx context.Context, key string) (string, error) {
	var code string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRefresh).Get([]byte(key))
		if len(v) < 8 || expired(v[:8], time.Now()) {
			return directory.ErrNotFound
		}
		code = string(v[8:])
		return nil
	})
	if err != nil {
		// The key is a hash of a live credential; it stays out of error text.
		return "", fmt.Errorf("get refresh record: %w", err)
	}
	return code, nil
}

// Add adds delta to the counter at key and returns the new value. bbolt serialises write
// transactions, so the read-modify-write below is atomic.
func (s *Store) Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("add to counter %q: ttl %s: %w", key, ttl, directory.ErrInvalid)
	}
	var value int64
	// Batched: a burst of failed logins is exactly when counters are written concurrently.
	// fn may run twice (bbolt retries a failed batch one by one), so it only sets value.
	err := s.update(ctx, true, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		now := time.Now()
		v := make([]byte, 16)
		// An existing counter keeps its expiry, unless it holds 0 (ratelimit.Counters).
		if old := b.Get([]byte(key)); len(old) == 16 && !expired(old[8:], now) && binary.BigEndian.Uint64(old) != 0 {
			value = int64(binary.BigEndian.Uint64(old)) + delta
			copy(v[8:], old[8:])
		} else {
			value = delta
			binary.BigEndian.PutUint64(v[8:], uint64(now.Add(ttl).UnixNano()))
		}
		binary.BigEndian.PutUint64(v, uint64(value))
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return 0, fmt.Errorf("add to counter %q: %w", key, err)
	}
	return value, nil
}

// Peek returns the counter's value and remaining time to live; 0, 0 if missing or expired.
func (s *Store) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	var (
		value int64
		left  time.Duration
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCounters).Get([]byte(key))
		if len(v) != 16 {
			return nil
		}
		left = time.Until(time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))))
		if left <= 0 {
			left = 0
			return nil
		}
		value = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("peek counter %q: %w", key, err)
	}
	return value, left, nil
}

// Delete removes the counter; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounters).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("delete counter %q: %w", key, err)
	}
	return nil
}

func expired(expiry []byte, now time.Time) bool {
	return int64(binary.BigEndian.Uint64(expiry)) <= now.UnixNano()
}

// sweepBatch bounds the deletions per transaction, so a sweep never holds the writer lock
// (and delays logins' counter updates) for long.
const sweepBatch = 10_000

func (s *Store) sweepLoop() {
	defer s.sweeper.Done()
	tick := time.NewTicker(s.opts.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			if n, err := s.sweep(time.Now()); err != nil {
				s.opts.Logger.Warn("sweeping expired records failed", "path", s.path, "err", err)
			} else if n > 0 {
				s.opts.Logger.Debug("swept expired records", "path", s.path, "deleted", n)
			}
		}
	}
}

// sweep deletes refresh records and counters that expired before now and returns how many.
func (s *Store) sweep(now time.Time) (int, error) {
	refreshed, err := s.sweepBucket(bucketRefresh, func(v []byte) []byte {
		if len(v) < 8 {
			return nil
		}
		return v[:8]
	}, now)
	if err != nil {
		return refreshed, err
	}
	counted, err := s.sweepBucket(bucketCounters, func(v []byte) []byte {
		if len(v) != 16 {
			return nil
		}
		return v[8:]
	}, now)
	return refreshed + counted, err
}

// sweepBucket scans one bucket in slices of sweepBatch keys, one transaction each, deleting
// records whose expiry (as extracted by expiryOf; nil for a malformed record) has passed.
func (s *Store) sweepBucket(name []byte, expiryOf func(v []byte) []byte, now time.Time) (int, error) {
	deleted := 0
	var from []byte // first key not yet scanned; nil starts at the beginning
	for {
		var doomed [][]byte
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			c := b.Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for scanned := 0; k != nil && scanned < sweepBatch; scanned++ {
				if e := expiryOf(v); e == nil || expired(e, now) {
					doomed = append(doomed, bytes.Clone(k))
				}
				k, v = c.Next()
			}
			// Keys are only valid inside the transaction; nil once the end is reached.
			from = bytes.Clone(k)
			// Deleting after the scan, not through the cursor, avoids bbolt's cursor
			// skipping entries after a delete.
			for _, key := range doomed {
				if err := b.Delete(key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("sweep %s: %w", name, err)
		}
		deleted += len(doomed)
		if from == nil {
			return deleted, nil
		}
		select {
		case <-s.stop:
			return deleted, nil
		default:
		}
	}
}
