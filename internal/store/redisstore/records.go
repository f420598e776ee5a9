package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
)

// PutRefresh records which cluster a refresh token (by its hash, refresh.Key) belongs to,
// expiring with ttl so Redis forgets tokens by itself.
func (s *Store) PutRefresh(ctx context.Context, key, clusterCode string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("put refresh record: ttl %s: %w", ttl, directory.ErrInvalid)
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cmd := s.client.B().Set().Key(s.keys.refresh(key)).Value(clusterCode).PxMilliseconds(ttl.Milliseconds()).Build()
	if err := s.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis store: put refresh record: %w", err)
	}
	return nil
}

// PutRefreshBatch writes many records in one pipeline.
func (s *Store) PutRefreshBatch(ctx context.Context, records []refresh.Record, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("put refresh records: ttl %s: %w", ttl, directory.ErrInvalid)
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cmds := make(rueidis.Commands, 0, len(records))
	for _, r := range records {
		cmds = append(cmds, s.client.B().Set().Key(s.keys.refresh(r.Key)).Value(r.ClusterCode).PxMilliseconds(ttl.Milliseconds()).Build())
	}
	for _, res := range s.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("redis store: put %d refresh records: %w", len(records), err)
		}
	}
	return nil
}

// GetRefresh returns the cluster code of a refresh record, or directory.ErrNotFound.
func (s *Store) GetRefresh(ctx context.Context, key string) (string, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	code, err := s.client.Do(ctx, s.client.B().Get().Key(s.keys.refresh(key)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", fmt.Errorf("refresh record: %w", directory.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("redis store: get refresh record: %w", err)
	}
	return code, nil
}

// Add adds delta to a brute-force counter in one script, so a parallel burst from many
// instances is counted exactly (SPEC section 6).
func (s *Store) Add(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		return 0, fmt.Errorf("counter %q: ttl %s: %w", key, ttl, directory.ErrInvalid)
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	args := []string{fmt.Sprint(delta), fmt.Sprint(ttl.Milliseconds())}
	v, err := s.eval(ctx, addLua, []string{s.keys.counter(key)}, args).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("redis store: add to counter %q: %w", key, err)
	}
	return v, nil
}

// Peek returns a counter's value and time to live; 0, 0 for a missing counter.
func (s *Store) Peek(ctx context.Context, key string) (int64, time.Duration, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer cancel()
	vals, err := s.eval(ctx, peekLua, []string{s.keys.counter(key)}, nil).AsIntSlice()
	if err != nil {
		return 0, 0, fmt.Errorf("redis store: peek counter %q: %w", key, err)
	}
	if len(vals) != 2 {
		return 0, 0, fmt.Errorf("redis store: peek counter %q: script returned %d values", key, len(vals))
	}
	ttl := time.Duration(max(vals[1], 0)) * time.Millisecond
	return vals[0], ttl, nil
}

// Delete removes a counter.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Del().Key(s.keys.counter(key)).Build()).Error(); err != nil {
		return fmt.Errorf("redis store: delete counter %q: %w", key, err)
	}
	return nil
}

// Batch runs counter operations in one pipeline (ratelimit.BatchCounters). In Redis Cluster
// the operations whose keys share a hash tag (a username's counters, an address's) are one
// call of counterLua, atomic on their slot's node, in their order; on a single server (or a
// Sentinel's master), where a script may touch any key, the whole batch is one call — a
// reservation is one script instead of two, and the settlements the limiter sends together
// (ratelimit/settler.go) one instead of one per login. A server that lost its scripts (a
// restart, a failover, a cluster node that never ran them) refuses a whole call, which
// evalMulti sends again with the source.
func (s *Store) Batch(ctx context.Context, ops []ratelimit.Op) []ratelimit.Result {
	out := make([]ratelimit.Result, len(ops))
	if len(ops) == 0 {
		return out
	}
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	defer cancel()
	for _, o := range ops {
		if o.Kind == ratelimit.OpAdd && o.TTL < time.Millisecond {
			return s.batchOneByOne(ctx, ops) // Add reports the bad ttl
		}
	}
	// Every key and argument of the batch is written into one buffer and sliced from it: one
	// allocation for the batch instead of two or three per operation (the login path).
	var text strings.Builder
	size := 0
	for _, o := range ops {
		size += len(s.keys.prefix) + len(counterTag) + len(o.Key) + len("-9223372036854775808:") + 20
	}
	text.Grow(size)
	ends := make([]int, 2*len(ops)) // ends[2i]: end of op i's key, ends[2i+1]: of its "delta:ttl"
	var num [20]byte
	for i, o := range ops {
		s.keys.writeCounter(&text, o.Key)
		ends[2*i] = text.Len()
		if o.Kind == ratelimit.OpAdd {
			text.Write(strconv.AppendInt(num[:0], o.Delta, 10))
			text.WriteByte(':')
			text.Write(strconv.AppendInt(num[:0], o.TTL.Milliseconds(), 10))
		}
		ends[2*i+1] = text.Len()
	}
	all := text.String()
	// One call per hash tag in Redis Cluster (a script touches one slot); one for the whole
	// batch elsewhere.
	var calls []scriptCall
	var members [][]int // members[c]: the ops of calls[c]
	var tagBuf [4]string
	tags := tagBuf[:0] // tags[c]: the hash tag of calls[c]
	perCall := 0       // the capacity a call starts with: all of the batch when it is one call
	if !s.cluster {
		perCall = len(ops)
	}
	start := 0
	for i, o := range ops {
		key, arg := all[start:ends[2*i]], all[ends[2*i]:ends[2*i+1]]
		start = ends[2*i+1]
		tag := ""
		if s.cluster {
			tag = hashTag(key)
		}
		c := slices.Index(tags, tag) // a batch has a handful of tags at most
		if c < 0 {
			c = len(calls)
			tags = append(tags, tag)
			calls = append(calls, scriptCall{keys: make([]string, 0, perCall), args: make([]string, 0, 2*perCall)})
			members = append(members, make([]int, 0, perCall))
		}
		calls[c].keys = append(calls[c].keys, key)
		calls[c].args = append(calls[c].args, counterWord(o.Kind), arg)
		members[c] = append(members[c], i)
	}
	for c, r := range s.evalMulti(ctx, counterLua, calls) {
		vals, err := r.ToArray()
		if err == nil && len(vals) != len(members[c]) {
			err = fmt.Errorf("script returned %d values for %d operations", len(vals), len(members[c]))
		}
		for j, i := range members[c] {
			if err != nil {
				out[i].Err = fmt.Errorf("redis store: counter %q: %w", ops[i].Key, err)
				continue
			}
			out[i] = counterResult(ops[i], vals[j])
		}
	}
	return out
}

// counterWord names an operation for counterLua.
func counterWord(k ratelimit.OpKind) string {
	switch k {
	case ratelimit.OpPeek:
		return "peek"
	case ratelimit.OpDelete:
		return "del"
	}
	return "add"
}

// counterResult reads one operation's answer out of counterLua's.
func counterResult(o ratelimit.Op, m rueidis.RedisMessage) ratelimit.Result {
	var res ratelimit.Result
	switch o.Kind {
	case ratelimit.OpAdd:
		res.Value, res.Err = m.AsInt64()
	case ratelimit.OpPeek:
		vals, err := m.AsIntSlice()
		if err == nil && len(vals) != 2 {
			err = fmt.Errorf("script returned %d values", len(vals))
		}
		if err == nil {
			res.Value, res.TTL = vals[0], time.Duration(max(vals[1], 0))*time.Millisecond
		}
		res.Err = err
	}
	if res.Err != nil {
		res.Err = fmt.Errorf("redis store: counter %q: %w", o.Key, res.Err)
	}
	return res
}

// hashTag is the part of key Redis Cluster hashes for its slot: the text between the first
// '{' and the next '}' when not empty, else the whole key. Keys with one tag share a slot.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func (s *Store) batchOneByOne(ctx context.Context, ops []ratelimit.Op) []ratelimit.Result {
	out := make([]ratelimit.Result, len(ops))
	for i, o := range ops {
		switch o.Kind {
		case ratelimit.OpAdd:
			out[i].Value, out[i].Err = s.Add(ctx, o.Key, o.Delta, o.TTL)
		case ratelimit.OpPeek:
			out[i].Value, out[i].TTL, out[i].Err = s.Peek(ctx, o.Key)
		default:
			out[i].Err = s.Delete(ctx, o.Key)
		}
	}
	return out
}
