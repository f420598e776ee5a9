package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

// Reconcile on Redis (SPEC section 8). The list arrives sorted by bucket position (see
// ReconcileRank), so the store walks the namespace's bucket positions once, in runs of
// up to tagSpan buckets that share a hash tag, and hands each run's list names to one script
// call together with the run's buckets: the script compares them with the fields bound to
// the cluster's id and adds or removes the id — server-side, in the same slot, so it runs
// unchanged on Redis Cluster, never uses KEYS and never copies the cluster's bindings to Go.
// Calls are pipelined, reconcilePipeline to a round trip, reconcileParallel round trips in
// flight, on a connection of the walk's own. A call reads a run of 4 to 128 buckets, adapted
// to what the last round found (adapt) so that each handles ~75 fields and names: short
// calls where the namespace is dense (4 buckets at a million bindings), so a login's
// command waits behind at most a few short scripts (measured: ~300 per call tripled the login
// p99 during a walk, ~75 keeps it under twice, for a walk a third longer; docs/benchmarks.md),
// and few calls where it is sparse (a small cluster's walk is ~1,000 calls, not 8,256:
// measured, a 3-user sync on a loaded machine took 13 s with fixed 16-bucket runs, 1.2 s
// with 64).
//
// Binds during a reconcile: an applying reconcile first sets its flag (key rc:NS:ID, which
// also makes it the only applying reconcile of that cluster and namespace) and one guard hash
// per hash tag (rg:NS:ID:{T}). While a guard exists, the bind and unbind scripts of that id
// record each username they write in it, in the same atomic step; the reconcile script never
// changes a recorded username. BindMany's HSETNX fast path reads the flag first and takes the
// script path while it is set; changes start only Options.ReconcileSettle (default: the store
// timeout, the bound of one such chunk) after the flag, so a chunk that read it unset has
// landed before. The keys carry a lease (reconcileLease) renewed while the reconcile runs, so
// a crashed instance leaves nothing behind for long.
//
// Notification: one message for the whole reconcile — the changed names when there are at
// most directory.ReconcileSamples of each kind (the samples are then complete), otherwise the
// cluster-wide "everything may have changed".
const (
	reconcileRunLen   = 32 // to start with; adapt keeps a call near reconcileCallWork
	reconcileRunMin   = 4
	reconcileRunMax   = tagSpan
	reconcileCallWork = 75 // fields and list names one call should handle
	reconcilePipeline = 2  // 4 doubled the login p99 during a walk for no gain in time (docs/benchmarks.md)
	reconcileParallel = 2
	reconcileLease    = 10 * time.Minute
	reconcileRenew    = time.Minute
	// slotTags is the number of distinct hash tags of bucket keys ({0}..{1023}); long
	// buckets reuse the first ones.
	slotTags = shortBuckets / tagSpan
)

// ReconcileRank is a username's bucket position: the order of the walk.
func (s *Store) ReconcileRank(username string) uint64 { return uint64(bucketOf(username)) }

// reconcileFlag is the key that tells bulk binds a reconcile of (ns, id) is applying.
func (k keys) reconcileFlag(ns directory.Namespace, id string) string {
	return k.prefix + "rc:" + string(ns) + ":" + id
}

// reconcileGuard is the guard hash of (ns, id) in the slot of bucket position pos.
func (k keys) reconcileGuard(ns directory.Namespace, id string, pos int) string {
	return k.prefix + "rg:" + string(ns) + ":" + id + ":{" + strconv.Itoa(slotTag(pos)) + "}"
}

// slotTag is the hash tag number of bucket position pos (see bucket).
func slotTag(pos int) int {
	if pos >= shortBuckets {
		pos -= shortBuckets
	}
	return pos / tagSpan
}

// tagPos is a bucket position carrying the hash tag number that BindMany grouped by.
func tagPos(group int) int { return group * tagSpan }

// reconciling reports whether an applying reconcile of (ns, id) has raised its flag.
func (s *Store) reconciling(ctx context.Context, ns directory.Namespace, id string) (bool, error) {
	n, err := s.client.Do(ctx, s.client.B().Exists().Key(s.keys.reconcileFlag(ns, id)).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("reconcile flag: %w", err)
	}
	return n > 0, nil
}

// Reconcile implements directory.Store.
func (s *Store) Reconcile(ctx context.Context, ns directory.Namespace, code string, list directory.ReconcileList,
	opts directory.ReconcileOptions) (directory.ReconcileResult, error) {
	var res directory.ReconcileResult
	octx, cancel, err := s.op(ctx)
	if err != nil {
		return res, err
	}
	id, err := s.clusterID(octx, code)
	cancel()
	if err != nil {
		return res, err
	}
	if id == "" {
		return res, fmt.Errorf("reconcile: cluster %q: %w", code, directory.ErrNotFound)
	}
	// The walk runs on a connection of its own: Redis serves each connection's pipeline in
	// turn, so logins on the shared connection wait for at most one short batch of scripts,
	// never behind the whole walk's queue.
	own, err := rueidis.NewClient(s.clientO)
	if err != nil {
		return res, fmt.Errorf("redis store: reconcile %q: connect: %w", code, err)
	}
	defer own.Close()
	r := &reconcileRun{s: s, ns: ns, id: id, client: own}
	r.runLen.Store(reconcileRunLen)
	if !opts.DryRun {
		if err := r.lock(ctx); err != nil {
			return res, fmt.Errorf("redis store: reconcile %q: %w", code, err)
		}
		defer r.unlock(context.WithoutCancel(ctx))
	}
	if opts.DryRun || opts.MaxRemovals >= 0 {
		res, err = r.pass(ctx, list, false)
		res.DryRun = opts.DryRun
		if err != nil || opts.DryRun {
			return res, wrapReconcile(code, err)
		}
		if res.Removed > opts.MaxRemovals {
			return res, &directory.TooManyRemovalsError{Result: res, MaxRemovals: opts.MaxRemovals}
		}
	}
	if wait := time.Until(r.flagged.Add(s.reconcileSettle)); wait > 0 {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("redis store: reconcile %q: %w", code, ctx.Err())
		case <-time.After(wait):
		}
	}
	res, err = r.pass(ctx, list, true)
	if err != nil {
		return res, wrapReconcile(code, err)
	}
	if res.Added+res.Removed > 0 {
		if res.Added <= directory.ReconcileSamples && res.Removed <= directory.ReconcileSamples {
			names := append(append([]string(nil), res.SampleAdded...), res.SampleRemoved...)
			s.announce(context.WithoutCancel(ctx), ns, names)
		} else {
			s.publish(context.WithoutCancel(ctx), changeAll)
		}
	}
	return res, nil
}

func wrapReconcile(code string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis store: reconcile %q: %w", code, err)
}

type reconcileRun struct {
	s      *Store
	client rueidis.Client // the walk's own connection
	// runLen is the buckets a call reads, adapted to the namespace's density (adapt).
	runLen  atomic.Int64
	ns      directory.Namespace
	id      string
	owner   string
	flagged time.Time
	renewed time.Time
}

// lock raises the flag (refusing when another reconcile holds it) and creates the guards.
func (r *reconcileRun) lock(ctx context.Context) error {
	var b [12]byte
	_, _ = rand.Read(b[:])
	r.owner = hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(ctx, r.s.roundTimeout())
	defer cancel()
	c := r.s.client
	err := c.Do(ctx, c.B().Set().Key(r.s.keys.reconcileFlag(r.ns, r.id)).Value(r.owner).Nx().
		Px(reconcileLease).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return directory.ErrReconcileBusy
	}
	if err != nil {
		return err
	}
	r.flagged, r.renewed = time.Now(), time.Now()
	cmds := make(rueidis.Commands, 0, 2*slotTags)
	for t := 0; t < slotTags; t++ {
		g := r.s.keys.reconcileGuard(r.ns, r.id, tagPos(t))
		// A NUL field marks the guard as existing; NUL never occurs in a username.
		cmds = append(cmds, c.B().Hset().Key(g).FieldValue().FieldValue("\x00", "1").Build(),
			c.B().Pexpire().Key(g).Milliseconds(reconcileLease.Milliseconds()).Build())
	}
	for _, res := range c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("reconcile guards: %w", err)
		}
	}
	return nil
}

// renew extends the lease of the flag and guards of a long reconcile.
func (r *reconcileRun) renew(ctx context.Context) error {
	if r.owner == "" || time.Since(r.renewed) < reconcileRenew {
		return nil
	}
	c := r.s.client
	ms := reconcileLease.Milliseconds()
	cmds := rueidis.Commands{c.B().Pexpire().Key(r.s.keys.reconcileFlag(r.ns, r.id)).Milliseconds(ms).Build()}
	for t := 0; t < slotTags; t++ {
		cmds = append(cmds, c.B().Pexpire().Key(r.s.keys.reconcileGuard(r.ns, r.id, tagPos(t))).Milliseconds(ms).Build())
	}
	for _, res := range c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("renew reconcile lease: %w", err)
		}
	}
	r.renewed = time.Now()
	return nil
}

// unlock removes the guards, then the flag (in that order: a bind that sees no guard must
// also see no flag... or a stale one, which only makes it take the slower script path).
func (r *reconcileRun) unlock(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.s.roundTimeout())
	defer cancel()
	c := r.s.client
	cmds := make(rueidis.Commands, 0, slotTags)
	for t := 0; t < slotTags; t++ {
		cmds = append(cmds, c.B().Del().Key(r.s.keys.reconcileGuard(r.ns, r.id, tagPos(t))).Build())
	}
	for _, res := range c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			r.s.log.Warn("redis store: reconcile guards not removed; they expire with their lease", "err", err)
			break
		}
	}
	flag := r.s.keys.reconcileFlag(r.ns, r.id)
	if err := r.s.eval(ctx, releaseLua, []string{flag}, []string{r.owner}).Error(); err != nil {
		r.s.log.Warn("redis store: reconcile flag not removed; it expires with its lease", "err", err)
	}
}

// adapt sets the next calls' run length from what the last round's calls scanned: sparse
// buckets (a small cluster, an empty namespace) are read in long runs, so the walk is few
// calls; dense ones in short runs, so no call holds Redis for long.
func (r *reconcileRun) adapt(scanned int64, calls int) {
	if calls == 0 {
		return
	}
	per := scanned / int64(calls)
	n := r.runLen.Load()
	switch {
	case per < reconcileCallWork/2 && n < reconcileRunMax:
		r.runLen.Store(n * 2)
	case per > reconcileCallWork*3/2 && n > reconcileRunMin:
		r.runLen.Store(n / 2)
	}
}

// pass walks every bucket position once, counting (apply false) or applying. Rounds are
// built in order from the list and run reconcileParallel at a time: the walk is bound by
// round trips, not by Redis, which runs each short script in turn.
func (r *reconcileRun) pass(ctx context.Context, list directory.ReconcileList, apply bool) (directory.ReconcileResult, error) {
	var res directory.ReconcileResult
	it, err := list.Open()
	if err != nil {
		return res, err
	}
	defer it.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, reconcileParallel)
		fail = func(err error) { cancel(err) }
	)
	next, more := it.Next()
	mode := "0"
	if apply {
		mode = "1"
	}
	for pos := 0; pos < totalBuckets && ctx.Err() == nil; {
		if err := r.renew(ctx); err != nil {
			fail(err)
			break
		}
		calls := make([]scriptCall, 0, reconcilePipeline)
		runLen := int(r.runLen.Load())
		for ; pos < totalBuckets && len(calls) < reconcilePipeline; pos = runEnd(pos, runLen) {
			end := runEnd(pos, runLen)
			keys := make([]string, 0, end-pos+1)
			for p := pos; p < end; p++ {
				keys = append(keys, r.s.keys.bucket(r.ns, p))
			}
			keys = append(keys, r.s.keys.reconcileGuard(r.ns, r.id, pos))
			args := []string{r.id, mode, strconv.Itoa(directory.ReconcileSamples)}
			for p := pos; p < end; p++ {
				countAt := len(args)
				args = append(args, "0")
				n := 0
				for more && bucketOf(next) == p {
					args = append(args, next)
					n++
					next, more = it.Next()
				}
				if n > 0 {
					args[countAt] = strconv.Itoa(n)
				}
			}
			if more && bucketOf(next) < end {
				fail(fmt.Errorf("reconcile list is not in bucket order at %q", next))
				break
			}
			calls = append(calls, scriptCall{keys: keys, args: args})
		}
		if err := it.Err(); err != nil {
			fail(err)
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var part directory.ReconcileResult
			var scanned int64
			if err := r.round(ctx, calls, &part, &scanned); err != nil {
				fail(err)
				return
			}
			r.adapt(scanned, len(calls))
			mu.Lock()
			res.Added += part.Added
			res.Removed += part.Removed
			res.Unchanged += part.Unchanged
			for _, n := range part.SampleAdded {
				res.SampleAdded = directory.Sample(res.SampleAdded, n)
			}
			for _, n := range part.SampleRemoved {
				res.SampleRemoved = directory.Sample(res.SampleRemoved, n)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	return res, it.Err()
}

// roundTimeout bounds one pipelined round of a reconcile. It is longer than the store timeout
// (a round is 32 script calls, several rounds in flight, on a Redis that keeps serving logins
// between them) but still bounded, so a Redis that hangs ends the reconcile with an error.
func (s *Store) roundTimeout() time.Duration { return 5*s.timeout + 5*time.Second }

func (r *reconcileRun) round(ctx context.Context, calls []scriptCall, res *directory.ReconcileResult, scanned *int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.s.roundTimeout())
	defer cancel()
	for _, rr := range evalMultiOn(ctx, r.client, reconcileLua, calls) {
		arr, err := rr.ToArray()
		if err != nil {
			return err
		}
		if len(arr) < 5 {
			return fmt.Errorf("reconcile script returned %d elements", len(arr))
		}
		var n [5]int64
		for i := range n {
			if n[i], err = arr[i].AsInt64(); err != nil {
				return err
			}
		}
		res.Added += n[0]
		res.Removed += n[1]
		res.Unchanged += n[2]
		*scanned += n[4]
		for i, v := range arr[5:] {
			name, err := v.ToString()
			if err != nil {
				return err
			}
			if int64(i) < n[3] {
				res.SampleAdded = directory.Sample(res.SampleAdded, name)
			} else {
				res.SampleRemoved = directory.Sample(res.SampleRemoved, name)
			}
		}
	}
	return nil
}

// reconcileLua compares the buckets KEYS[1..n-1] with the list names in ARGV and, when
// ARGV[2] is "1", makes the fields bound to id ARGV[1] exactly those names. KEYS[n] is the
// reconcile guard of the slot: usernames recorded in it are left as they are. ARGV[3] caps
// the samples; from ARGV[4] on, for each bucket, a count followed by that many names.
// Returns {added, removed, unchanged, #sample_added, fields and names scanned,
// sample_added..., sample_removed...}.
var reconcileLua = newScript(`
local nb = #KEYS - 1
local guard = KEYS[#KEYS]
local id, apply, cap = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
if #ARGV == 3 + nb then
  local b = {}
  for k = 1, nb do b[k] = KEYS[k] end
  if redis.call('EXISTS', unpack(b)) == 0 then return {0, 0, 0, 0, 0} end
end
local guarded = redis.call('EXISTS', guard) == 1
local function kept(name)
  return guarded and redis.call('HEXISTS', guard, name) == 1
end
local function has(v)
  if v == id then return true end
  if not string.find(v, ',', 1, true) then return false end
  for x in string.gmatch(v, '[^,]+') do if x == id then return true end end
  return false
end
local added, removed, unchanged, scanned = 0, 0, 0, 0
local sa, sr = {}, {}
local a = 4
for k = 1, nb do
  local cnt = tonumber(ARGV[a])
  local first = a + 1
  a = a + 1 + cnt
  local want = {}
  for i = first, a - 1 do want[ARGV[i]] = true end
  local all = redis.call('HGETALL', KEYS[k])
  scanned = scanned + #all / 2 + cnt
  local vals = {}
  for j = 1, #all, 2 do
    local name, v = all[j], all[j + 1]
    if want[name] then
      vals[name] = v
    elseif has(v) then
      if kept(name) then
        unchanged = unchanged + 1
      else
        removed = removed + 1
        if #sr < cap then sr[#sr + 1] = name end
        if apply then
          local out = {}
          for x in string.gmatch(v, '[^,]+') do if x ~= id then out[#out + 1] = x end end
          if #out == 0 then
            redis.call('HDEL', KEYS[k], name)
          else
            redis.call('HSET', KEYS[k], name, table.concat(out, ','))
          end
        end
      end
    end
  end
  for i = first, a - 1 do
    local name = ARGV[i]
    local v = vals[name]
    if (v and has(v)) or kept(name) then
      unchanged = unchanged + 1
    else
      added = added + 1
      if #sa < cap then sa[#sa + 1] = name end
      if apply then
        if v then
          redis.call('HSET', KEYS[k], name, v .. ',' .. id)
        else
          redis.call('HSET', KEYS[k], name, id)
        end
      end
    end
  end
end
local out = {added, removed, unchanged, #sa, scanned}
for _, n in ipairs(sa) do out[#out + 1] = n end
for _, n in ipairs(sr) do out[#out + 1] = n end
return out`)

// releaseLua deletes KEYS[1] if it still holds ARGV[1] (a lease's owner).
var releaseLua = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
