package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ssogate/ssogate/internal/audit"
)

var _ audit.Store = (*Store)(nil)

// The audit log lives in its own bucket, created on first use (a file from before the audit
// log gets it then, without a schema change):
//
//	audit   8-byte big-endian sequence → 8-byte Unix ns time + JSON audit.Entry
//
// The sequence (bucket NextSequence) orders entries and is their ID; the bucket's size is
// kept under the "audit.count" key of meta so trimming by count needs no scan.
var (
	bucketAudit   = []byte("audit")
	keyAuditCount = []byte("audit.count")
)

// auditScanBudget bounds how many entries one ListAudit call reads, so a filter that matches
// nothing answers a page with a cursor rather than scanning 100,000 entries in one request.
const auditScanBudget = 20_000

// AppendAudit stores e and trims the log to keep.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry, keep audit.Retention) error {
	err := s.update(ctx, false, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.ID = strconv.FormatUint(seq, 10)
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		v := make([]byte, 8, 8+len(body))
		binary.BigEndian.PutUint64(v, uint64(e.Time.UnixNano()))
		if err := b.Put(seqKey(seq), append(v, body...)); err != nil {
			return err
		}
		n := readCount(meta.Get(keyAuditCount)) + 1
		// Oldest first: drop what is too old or too many.
		cutoff := time.Now().Add(-keep.MaxAge).UnixNano()
		c := b.Cursor()
		for k, v := c.First(); k != nil && n > 0; k, v = c.First() {
			tooOld := keep.MaxAge > 0 && len(v) >= 8 && int64(binary.BigEndian.Uint64(v)) < cutoff
			if !(keep.MaxEntries > 0 && n > uint64(keep.MaxEntries)) && !tooOld {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return meta.Put(keyAuditCount, countBytes(n))
	})
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

// ListAudit returns entries newest first after the cursor (a sequence number).
func (s *Store) ListAudit(ctx context.Context, q audit.Query) ([]audit.Entry, string, error) {
	var start uint64 // 0: from the newest
	if q.Cursor != "" {
		n, err := strconv.ParseUint(q.Cursor, 10, 64)
		if err != nil || n == 0 {
			return nil, "", fmt.Errorf("list audit: %w", audit.ErrBadCursor)
		}
		start = n
	}
	var out []audit.Entry
	next := ""
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if start == 0 {
			k, v = c.Last()
		} else {
			// Seek lands on the cursor's own entry or the next one; step back past it.
			k, v = c.Seek(seqKey(start))
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && binary.BigEndian.Uint64(k) >= start {
				k, v = c.Prev()
			}
		}
		for scanned := 0; k != nil; k, v = c.Prev() {
			if len(out) >= q.Limit || scanned >= auditScanBudget {
				next = strconv.FormatUint(binary.BigEndian.Uint64(k)+1, 10)
				return nil
			}
			scanned++
			var e audit.Entry
			if len(v) < 8 || json.Unmarshal(v[8:], &e) != nil {
				continue // a damaged entry is skipped, not a failed page
			}
			if q.Match(e) {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	return out, next, nil
}

func seqKey(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

func readCount(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func countBytes(n uint64) []byte { return seqKey(n) }
