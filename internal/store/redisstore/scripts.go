package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script run with EVALSHA, falling back to EVAL where a server does not know
// it yet (after a restart, a failover, or on a new Cluster node). Scripts only touch the keys
// they are given, all in one slot, so they run unchanged on Redis Cluster.
type script struct {
	src, sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

type scriptCall struct {
	keys, args []string
}

// eval runs the script once.
func (s *Store) eval(ctx context.Context, sc *script, keys, args []string) rueidis.RedisResult {
	return s.evalMulti(ctx, sc, []scriptCall{{keys, args}})[0]
}

// evalMulti runs the script once per call in one pipeline. Calls whose server answered
// NOSCRIPT are sent again with the source; their order among themselves is kept, which is all
// callers need (each call is atomic on its own).
func (s *Store) evalMulti(ctx context.Context, sc *script, calls []scriptCall) []rueidis.RedisResult {
	return evalMultiOn(ctx, s.client, sc, calls)
}

// evalMultiOn is evalMulti on a given client (a reconcile's own connection).
func evalMultiOn(ctx context.Context, client rueidis.Client, sc *script, calls []scriptCall) []rueidis.RedisResult {
	b := client.B()
	cmds := make(rueidis.Commands, len(calls))
	for i, c := range calls {
		cmds[i] = b.Evalsha().Sha1(sc.sha).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build()
	}
	res := client.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range res {
		if e, ok := rueidis.IsRedisErr(r.Error()); ok && e.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return res
	}
	cmds = cmds[:0]
	for _, i := range retry {
		c := calls[i]
		cmds = append(cmds, b.Eval().Script(sc.src).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build())
	}
	for j, r := range client.DoMulti(ctx, cmds...) {
		res[retry[j]] = r
	}
	return res
}

// Cluster table scripts. KEYS: clusters, codes, ids, seq, dead (all in the {c} slot).

// putClusterLua creates or replaces a cluster; a new code gets a fresh id so that bindings
// left by an earlier cluster of the same code (still being swept) never apply to it.
var putClusterLua = newScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then
  id = redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[2], ARGV[1], id)
  redis.call('HSET', KEYS[3], id, ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return id`)

// deleteClusterLua removes a cluster and its id at once (Lookup ignores ids that map to no
// code from then on) and queues the id for the background sweep. It returns false for an
// unknown code.
var deleteClusterLua = newScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], id)
redis.call('SADD', KEYS[5], id)
return id`)

// Binding scripts. A bucket field's value is the comma-separated list of cluster ids; a
// single id is stored as a bare integer, which a listpack keeps in one or two bytes.

// bindLua adds ARGV[1] (an id) to the field ARGV[i+1] of bucket KEYS[i] for every i but the
// last: one call can carry several usernames whose buckets share a slot (BindMany groups them
// so). The last key is the reconcile guard of that id and slot (reconcile.go): while a
// reconcile of the cluster runs it exists, and every username written is recorded in it, in
// the same atomic step, so the reconcile leaves that binding as it was just made.
var bindLua = newScript(`
local id = ARGV[1]
local n = 0
local guard = KEYS[#KEYS]
local guarded = redis.call('EXISTS', guard) == 1
for i = 1, #KEYS - 1 do
  local name = ARGV[i + 1]
  local v = redis.call('HGET', KEYS[i], name)
  if not v then
    redis.call('HSET', KEYS[i], name, id)
    n = n + 1
  elseif v ~= id then
    local found = false
    for x in string.gmatch(v, '[^,]+') do
      if x == id then found = true break end
    end
    if not found then
      redis.call('HSET', KEYS[i], name, v .. ',' .. id)
      n = n + 1
    end
  end
  if guarded then redis.call('HSET', guard, name, '1') end
end
return n`)

// unbindLua removes id ARGV[2] from field ARGV[1] of bucket KEYS[1], deleting the field when
// no id is left. KEYS[2] is the reconcile guard, as for bindLua.
var unbindLua = newScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], '1') end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local out, found = {}, false
for x in string.gmatch(v, '[^,]+') do
  if x == ARGV[2] then found = true else out[#out + 1] = x end
end
if not found then return 0 end
if #out == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], table.concat(out, ','))
end
return 1`)

// sweepLua removes the ids in ARGV (deleted clusters) from every field of the buckets in
// KEYS, and returns how many fields it changed. Like listLua it first asks whether any of
// its buckets exists: one call instead of one per bucket, which is what makes walking the
// empty buckets of a small directory cheap (each redis.call costs ~0.7 us).
var sweepLua = newScript(`
if redis.call('EXISTS', unpack(KEYS)) == 0 then return 0 end
local dead = {}
for i = 1, #ARGV do dead[ARGV[i]] = true end
local n = 0
for k = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[k])
  for j = 1, #all, 2 do
    local v = all[j + 1]
    local out, changed = {}, false
    for x in string.gmatch(v, '[^,]+') do
      if dead[x] then changed = true else out[#out + 1] = x end
    end
    if changed then
      if #out == 0 then
        redis.call('HDEL', KEYS[k], all[j])
      else
        redis.call('HSET', KEYS[k], all[j], table.concat(out, ','))
      end
      n = n + 1
    end
  end
end
return n`)

// listLua returns, for the buckets in KEYS, the usernames bound to id ARGV[1] as a flat list
// {position-in-KEYS (0-based), username, ...}. It returns whole buckets and stops after the
// bucket in which the count reached ARGV[2]: the caller orders each bucket's names itself
// (Lua compares strings by the server's locale, Go by bytes) and cuts the page.
var listLua = newScript(`
if redis.call('EXISTS', unpack(KEYS)) == 0 then return {} end
local id, limit = ARGV[1], tonumber(ARGV[2])
local out, got = {}, 0
for k = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[k])
  for j = 1, #all, 2 do
    local v = all[j + 1]
    local match = v == id
    if not match and string.find(v, ',', 1, true) then
      for x in string.gmatch(v, '[^,]+') do
        if x == id then match = true break end
      end
    end
    if match then
      out[#out + 1] = k - 1
      out[#out + 1] = all[j]
      got = got + 1
    end
  end
  if got >= limit then return out end
end
return out`)

// Record scripts.

// addLua increments counter KEYS[1] by ARGV[1]; a counter that did not exist or held 0 —
// the new value is the delta — gets the ttl ARGV[2] (ms), any other keeps its expiry
// (ratelimit.Counters): one command less per addition than asking PTTL, and it works on
// Redis 6 too, unlike PEXPIRE NX.
var addLua = newScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v`)

// peekLua reads a counter and its ttl in one step, so the two agree.
var peekLua = newScript(`
local v = redis.call('GET', KEYS[1])
if not v then return {0, 0} end
return {tonumber(v), redis.call('PTTL', KEYS[1])}`)

// counterLua runs counter operations of a batch (ratelimit.BatchCounters) that share one
// hash tag, hence one slot, in one atomic step: for each KEYS[i], ARGV[2i-1] is "add"
// (ARGV[2i] "delta:ttl ms", as addLua), "peek" (as peekLua) or "del". Atomic matters: a
// reservation raises a counter and its in-flight count, and a reader must never see one
// without the other, or an attempt in flight reads as a recorded failure (a false refusal,
// even a false lockout) — separate calls let another instance's calls run between them. One
// script for all three also means a server that lost its scripts refuses every operation of
// a group, so they are sent again whole, in their order.
var counterLua = newScript(`
local out = {}
for i = 1, #KEYS do
  local op, arg = ARGV[2*i-1], ARGV[2*i]
  if op == 'add' then
    local sep = string.find(arg, ':', 1, true)
    local delta = string.sub(arg, 1, sep-1)
    local v = redis.call('INCRBY', KEYS[i], delta)
    if v == tonumber(delta) then
      redis.call('PEXPIRE', KEYS[i], string.sub(arg, sep+1))
    end
    out[i] = v
  elseif op == 'peek' then
    local v = redis.call('GET', KEYS[i])
    if not v then
      out[i] = {0, 0}
    else
      out[i] = {tonumber(v), redis.call('PTTL', KEYS[i])}
    end
  else
    redis.call('DEL', KEYS[i])
    out[i] = 0
  end
end
return out`)
