package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

func (s *Store) clusterKeys() []string {
	k := s.keys
	return []string{k.clusters, k.codes, k.ids, k.seq, k.dead}
}

// PutCluster creates or replaces a cluster and tells every instance that clusters changed.
func (s *Store) PutCluster(ctx context.Context, c directory.Cluster) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("redis store: encode cluster %q: %w", c.Code, err)
	}
	if err := s.eval(ctx, putClusterLua, s.clusterKeys(), []string{c.Code, string(raw)}).Error(); err != nil {
		return fmt.Errorf("redis store: put cluster %q: %w", c.Code, err)
	}
	s.publish(ctx, changeAll)
	return nil
}

// GetCluster returns the cluster with code, or directory.ErrNotFound.
func (s *Store) GetCluster(ctx context.Context, code string) (directory.Cluster, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return directory.Cluster{}, err
	}
	defer cancel()
	raw, err := s.client.Do(ctx, s.client.B().Hget().Key(s.keys.clusters).Field(code).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return directory.Cluster{}, fmt.Errorf("cluster %q: %w", code, directory.ErrNotFound)
	}
	if err != nil {
		return directory.Cluster{}, fmt.Errorf("redis store: get cluster %q: %w", code, err)
	}
	return decodeCluster(code, raw)
}

// ListClusters returns every cluster ordered by code.
func (s *Store) ListClusters(ctx context.Context) ([]directory.Cluster, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	all, err := s.client.Do(ctx, s.client.B().Hgetall().Key(s.keys.clusters).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("redis store: list clusters: %w", err)
	}
	out := make([]directory.Cluster, 0, len(all))
	for code, raw := range all {
		c, err := decodeCluster(code, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b directory.Cluster) int { return cmp.Compare(a.Code, b.Code) })
	return out, nil
}

func decodeCluster(code, raw string) (directory.Cluster, error) {
	var c directory.Cluster
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return directory.Cluster{}, fmt.Errorf("redis store: decode cluster %q: %w", code, err)
	}
	return c, nil
}

// DeleteCluster removes the cluster and its id in one script, so its bindings vanish from
// every Lookup and ListUsers at once; the bucket fields that still name the id are cleaned by
// the background sweep.
func (s *Store) DeleteCluster(ctx context.Context, code string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = s.eval(ctx, deleteClusterLua, s.clusterKeys(), []string{code}).Error()
	if rueidis.IsRedisNil(err) {
		return fmt.Errorf("cluster %q: %w", code, directory.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("redis store: delete cluster %q: %w", code, err)
	}
	s.kickSweep()
	s.publish(ctx, changeAll)
	return nil
}

// clusterID returns the id of code, or "" for an unknown cluster.
func (s *Store) clusterID(ctx context.Context, code string) (string, error) {
	id, err := s.client.Do(ctx, s.client.B().Hget().Key(s.keys.codes).Field(code).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis store: id of cluster %q: %w", code, err)
	}
	return id, nil
}

func (s *Store) kickSweep() {
	select {
	case s.sweepKick <- struct{}{}:
	default: // a sweep is already due; it reads the whole dead set
	}
}

// sweepRun is how many buckets one sweep script reads: small enough that a script never
// blocks Redis for long (~2,400 fields at 10 M bindings), large enough to skip empty buckets
// cheaply.
const (
	sweepRun      = 32
	sweepPipeline = 64
)

// sweeper runs sweeps when kicked until ctx ends. A failed sweep is retried later; the dead
// set in Redis survives a crash, and Open kicks a sweep, so another process finishes it.
func (s *Store) sweeper(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sweepKick:
		}
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("redis store: sweep of deleted clusters' bindings failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Second):
				s.kickSweep()
			}
		}
	}
}

// sweep removes the ids of the dead set from every bucket of both namespaces, then drops them
// from the set. Ids are never reused, so a Bind that races with the sweep can at worst leave
// a field naming a dead id, which Lookup and ListUsers ignore.
func (s *Store) sweep(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, s.timeout)
	dead, err := s.client.Do(octx, s.client.B().Smembers().Key(s.keys.dead).Build()).AsStrSlice()
	cancel()
	if err != nil {
		return fmt.Errorf("read dead cluster ids: %w", err)
	}
	if len(dead) == 0 {
		return nil
	}
	start, changed := time.Now(), int64(0)
	for _, ns := range directory.Namespaces {
		calls := make([]scriptCall, 0, sweepPipeline)
		for pos := 0; pos < totalBuckets; {
			end := runEnd(pos, sweepRun)
			ks := make([]string, 0, end-pos)
			for ; pos < end; pos++ {
				ks = append(ks, s.keys.bucket(ns, pos))
			}
			calls = append(calls, scriptCall{keys: ks, args: dead})
			if len(calls) == sweepPipeline || pos == totalBuckets {
				n, err := s.sweepCalls(ctx, calls)
				if err != nil {
					return err
				}
				changed += n
				calls = calls[:0]
			}
		}
	}
	octx, cancel = context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Do(octx, s.client.B().Srem().Key(s.keys.dead).Member(dead...).Build()).Error(); err != nil {
		return fmt.Errorf("forget swept cluster ids: %w", err)
	}
	s.log.Info("redis store: swept bindings of deleted clusters", "ids", dead, "fields", changed,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *Store) sweepCalls(ctx context.Context, calls []scriptCall) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n int64
	for _, r := range s.evalMulti(ctx, sweepLua, calls) {
		v, err := r.AsInt64()
		if err != nil {
			return n, fmt.Errorf("sweep buckets: %w", err)
		}
		n += v
	}
	return n, nil
}
