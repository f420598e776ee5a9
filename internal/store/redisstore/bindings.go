package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

// Bind binds username to the cluster code: one script on the username's bucket adds the
// cluster's id to the field unless it is there, so concurrent binds never lose each other.
func (s *Store) Bind(ctx context.Context, ns directory.Namespace, username, code string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	id, err := s.clusterID(ctx, code)
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("bind %q: cluster %q: %w", username, code, directory.ErrNotFound)
	}
	pos := bucketOf(username)
	keys := []string{s.keys.bucket(ns, pos), s.keys.reconcileGuard(ns, id, pos)}
	if err := s.eval(ctx, bindLua, keys, []string{id, username}).Error(); err != nil {
		return fmt.Errorf("redis store: bind %q to %q: %w", username, code, err)
	}
	s.announce(ctx, ns, []string{username})
	return nil
}

// Unbind removes the binding; an unknown cluster or user is not an error.
func (s *Store) Unbind(ctx context.Context, ns directory.Namespace, username, code string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	id, err := s.clusterID(ctx, code)
	if err != nil || id == "" {
		return err
	}
	pos := bucketOf(username)
	keys := []string{s.keys.bucket(ns, pos), s.keys.reconcileGuard(ns, id, pos)}
	if err := s.eval(ctx, unbindLua, keys, []string{username, id}).Error(); err != nil {
		return fmt.Errorf("redis store: unbind %q from %q: %w", username, code, err)
	}
	s.announce(ctx, ns, []string{username})
	return nil
}

// bindChunk is how many usernames one pipelined round of BindMany carries; each round has
// its own store deadline. directory.BulkBindBatch (5000) is one round.
const bindChunk = 5000

// BindMany binds a batch to one cluster, pipelined: a bulk import runs at Redis speed (SPEC
// section 7, 1 million bindings in under 10 s). Each username is bound atomically, by HSETNX
// when it has no binding yet, else by the bind script.
func (s *Store) BindMany(ctx context.Context, ns directory.Namespace, code string, usernames []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	if len(usernames) == 0 {
		return nil
	}
	octx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	id, err := s.clusterID(octx, code)
	cancel()
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("bind many: cluster %q: %w", code, directory.ErrNotFound)
	}
	for start := 0; start < len(usernames); start += bindChunk {
		chunk := usernames[start:min(start+bindChunk, len(usernames))]
		if err := s.bindChunk(ctx, ns, id, chunk); err != nil {
			return fmt.Errorf("redis store: bind %d usernames to %q: %w", len(chunk), code, err)
		}
	}
	return nil
}

func (s *Store) bindChunk(ctx context.Context, ns directory.Namespace, id string, names []string) error {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	// While a reconcile of this cluster runs, every name goes through the script, which
	// records it in the reconcile's guard atomically (reconcile.go); a reconcile starts
	// changing bindings only a store timeout after raising its flag, so a chunk that read the
	// flag unset has landed by then.
	b := s.client.B()
	var existing []string
	reconciling, err := s.reconciling(ctx, ns, id)
	if err != nil {
		return err
	}
	if reconciling {
		existing = names
	} else {
		// First HSETNX, which binds a username that has no binding yet in one plain command:
		// the common case of an import, and several times cheaper for Redis than a script
		// call.
		cmds := make(rueidis.Commands, len(names))
		for i, name := range names {
			cmds[i] = b.Hsetnx().Key(s.keys.bucket(ns, bucketOf(name))).Field(name).Value(id).Build()
		}
		for i, r := range s.client.DoMulti(ctx, cmds...) {
			set, err := r.AsBool()
			if err != nil {
				return err
			}
			if !set {
				existing = append(existing, names[i])
			}
		}
	}
	// Usernames that already had a field get the id added by the script, grouped by hash
	// tag (tagSpan buckets share one), which is what a script may touch in Redis Cluster.
	if len(existing) > 0 {
		groups := make(map[int]*scriptCall)
		var order []int
		for _, name := range existing {
			pos := bucketOf(name)
			tag := pos / tagSpan // short and long positions never share a tag number here
			g := groups[tag]
			if g == nil {
				g = &scriptCall{args: []string{id}}
				groups[tag] = g
				order = append(order, tag)
			}
			g.keys = append(g.keys, s.keys.bucket(ns, pos))
			g.args = append(g.args, name)
		}
		calls := make([]scriptCall, 0, len(order))
		for _, tag := range order {
			g := groups[tag]
			g.keys = append(g.keys, s.keys.reconcileGuard(ns, id, tagPos(tag)))
			calls = append(calls, *g)
		}
		for _, r := range s.evalMulti(ctx, bindLua, calls) {
			if err := r.Error(); err != nil {
				return err
			}
		}
	}
	s.announce(ctx, ns, names)
	return nil
}

// Lookup returns the codes bound to username, sorted. It reads the bucket field, then
// translates the ids through the id table: ids of deleted clusters translate to nothing, so a
// deleted cluster vanishes at once even before the sweep reaches the bucket. Concurrent
// lookups are gathered (gather.go): those that arrive while one is on the wire share the next
// two round trips.
func (s *Store) Lookup(ctx context.Context, ns directory.Namespace, username string) ([]string, error) {
	ctx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res, err := s.lookups.do(ctx, lookupReq{ns, username})
	if err != nil {
		return nil, fmt.Errorf("redis store: lookup %q: %w", username, err)
	}
	return res.codes, res.err
}

// lookupReq and lookupRes are one Lookup as the lookups' gatherer (gather.go) sends it.
type lookupReq struct {
	ns       directory.Namespace
	username string
}

type lookupRes struct {
	codes []string
	err   error
}

// maxLookupBatch bounds the usernames one batch asks for (one DoMulti and one HMGET).
const maxLookupBatch = 256

// lookupMany looks usernames up in two round trips however many they are: one DoMulti of their
// HGETs, then one HMGET translating the cluster ids of all that were found.
func (s *Store) lookupMany(ctx context.Context, reqs []lookupReq) []lookupRes {
	if len(reqs) == 1 { // alone, as below load: without the batch's bookkeeping
		codes, err := s.lookupOne(ctx, reqs[0])
		return []lookupRes{{codes, err}}
	}
	out := make([]lookupRes, len(reqs))
	cmds := make(rueidis.Commands, len(reqs))
	for i, r := range reqs {
		cmds[i] = s.client.B().Hget().Key(s.keys.bucket(r.ns, bucketOf(r.username))).Field(r.username).Build()
	}
	idsOf := make([][]string, len(reqs))
	var want []string // the ids to translate, each once: a handful (one per cluster at most)
	for i, m := range s.client.DoMulti(ctx, cmds...) {
		v, err := m.ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			out[i].err = fmt.Errorf("redis store: lookup %q: %w", reqs[i].username, err)
			continue
		}
		idsOf[i] = strings.Split(v, ",")
		for _, id := range idsOf[i] {
			if !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
	}
	if len(want) == 0 {
		return out
	}
	codes, err := s.client.Do(ctx, s.client.B().Hmget().Key(s.keys.ids).Field(want...).Build()).AsStrSlice()
	if err == nil && len(codes) != len(want) {
		err = fmt.Errorf("%d codes for %d ids", len(codes), len(want))
	}
	for i, ids := range idsOf {
		if ids == nil {
			continue
		}
		if err != nil {
			out[i].err = fmt.Errorf("redis store: lookup %q: cluster ids: %w", reqs[i].username, err)
			continue
		}
		found := make([]string, len(ids))
		for j, id := range ids {
			found[j] = codes[slices.Index(want, id)]
		}
		out[i].codes = boundCodes(found)
	}
	return out
}

// lookupOne is one lookup's two round trips.
func (s *Store) lookupOne(ctx context.Context, r lookupReq) ([]string, error) {
	key := s.keys.bucket(r.ns, bucketOf(r.username))
	v, err := s.client.Do(ctx, s.client.B().Hget().Key(key).Field(r.username).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: lookup %q: %w", r.username, err)
	}
	codes, err := s.client.Do(ctx, s.client.B().Hmget().Key(s.keys.ids).Field(strings.Split(v, ",")...).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis store: lookup %q: cluster ids: %w", r.username, err)
	}
	return boundCodes(codes), nil
}

// boundCodes turns the codes a binding's ids translated to into Lookup's answer: sorted,
// each once, without the "" of a deleted cluster's id; nil when none is left.
func boundCodes(codes []string) []string {
	codes = slices.DeleteFunc(codes, func(c string) bool { return c == "" })
	if len(codes) == 0 {
		return nil
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}
