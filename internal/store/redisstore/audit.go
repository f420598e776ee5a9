package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/audit"
)

var _ audit.Store = (*Store)(nil)

// The audit log is one stream, so every instance on this Redis writes to and reads the same
// log, in the order Redis received the entries:
//
//	Paudit   stream, entry field "e" = JSON audit.Entry; the stream ID is the entry's ID
//
// One key is one slot in Redis Cluster; admin changes are rare enough for that.

// auditScanBudget bounds the entries one ListAudit call reads (see audit.Store).
const auditScanBudget = 10_000

// auditChunk is how many entries one XREVRANGE round reads.
const auditChunk = 500

func (s *Store) auditKey() string { return s.keys.prefix + "audit" }

// AppendAudit adds e to the stream and trims it to keep: MAXLEN for the count, MINID (stream
// IDs start with the server's milliseconds) for the age.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry, keep audit.Retention) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	e.ID = ""
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redis store: append audit entry: %w", err)
	}
	b := s.client.B()
	cmds := rueidis.Commands{b.Xadd().Key(s.auditKey()).Id("*").FieldValue().FieldValue("e", string(body)).Build()}
	if keep.MaxEntries > 0 {
		cmds = append(cmds, b.Xtrim().Key(s.auditKey()).Maxlen().Exact().Threshold(strconv.Itoa(keep.MaxEntries)).Build())
	}
	if keep.MaxAge > 0 {
		minID := strconv.FormatInt(time.Now().Add(-keep.MaxAge).UnixMilli(), 10)
		cmds = append(cmds, b.Xtrim().Key(s.auditKey()).Minid().Exact().Threshold(minID).Build())
	}
	for _, r := range s.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("redis store: append audit entry: %w", err)
		}
	}
	return nil
}

// ListAudit reads the stream backwards from the cursor (an exclusive stream ID).
func (s *Store) ListAudit(ctx context.Context, q audit.Query) ([]audit.Entry, string, error) {
	end := "+"
	if q.Cursor != "" {
		if !validStreamID(q.Cursor) {
			return nil, "", fmt.Errorf("list audit: %w", audit.ErrBadCursor)
		}
		end = "(" + q.Cursor
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cancel()
	var out []audit.Entry
	for scanned := 0; scanned < auditScanBudget; {
		msgs, err := s.client.Do(ctx, s.client.B().Xrevrange().Key(s.auditKey()).End(end).Start("-").Count(auditChunk).Build()).AsXRange()
		if err != nil {
			return nil, "", fmt.Errorf("redis store: list audit: %w", err)
		}
		for i, m := range msgs {
			var e audit.Entry
			if json.Unmarshal([]byte(m.FieldValues["e"]), &e) != nil {
				continue
			}
			e.ID = m.ID
			if !q.Match(e) {
				continue
			}
			out = append(out, e)
			if len(out) == q.Limit {
				if i == len(msgs)-1 && len(msgs) < auditChunk {
					return out, "", nil // that was the oldest entry
				}
				return out, m.ID, nil
			}
		}
		scanned += len(msgs)
		if len(msgs) < auditChunk {
			return out, "", nil
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	return out, strings.TrimPrefix(end, "("), nil
}

// validStreamID accepts "ms-seq", the only cursors ListAudit hands out.
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
