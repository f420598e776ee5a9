package directory

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cache is the bounded in-process cache of lookups, keyed by namespace and username. It keeps
// the last answer the store gave for each username, including "no bindings", so that the hot
// path of /oauth/token touches no store; it also serves as the last-known-good copy while the
// store is unreachable (SPEC section 3, cache.stale_if_error).
//
// Eviction is random within a shard (Go map iteration order), which keeps the bound without
// the per-entry pointers an LRU list would cost. An entry is a 16-byte value (the index of an
// interned set of codes, and a time) plus the username: about 70 bytes in all (SPEC
// section 7 allows 200).
type cache struct {
	seed     maphash.Seed
	shards   []cacheShard
	perShard int
	// validAfter (unix nanos): entries fetched before it must be revalidated (an "everything
	// may have changed" invalidation), but may still be served while the store is down.
	validAfter atomic.Int64
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string]cacheEntry
	// gen counts invalidations, so that a lookup that raced with one does not store the
	// answer it read before the change.
	gen uint64
}

type cacheEntry struct {
	fetched int64  // unix nanos when the store read started
	set     uint32 // index in codeSets; 0 is "no bindings"
}

const cacheShards = 64

func newCache(size int) *cache {
	if size < cacheShards {
		size = cacheShards
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, cacheShards), perShard: size / cacheShards}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]cacheEntry)
	}
	return c
}

func cacheKey(ns Namespace, username string) string {
	if ns == NamespaceManager {
		return "m" + username
	}
	return "u" + username
}

func (c *cache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

// get returns the entry for key and the shard generation to pass to put after a store read.
func (c *cache) get(key string) (cacheEntry, bool, uint64) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.entries[key]
	gen := s.gen
	s.mu.RUnlock()
	return e, ok, gen
}

// fresh reports whether e may be served without asking the store.
func (c *cache) fresh(e cacheEntry, now time.Time, ttl time.Duration) bool {
	return e.fetched >= c.validAfter.Load() && now.UnixNano()-e.fetched < int64(ttl)
}

func (c *cache) put(key string, e cacheEntry, gen uint64) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return // invalidated while the store was read: the answer may predate the change
	}
	if _, exists := s.entries[key]; !exists && len(s.entries) >= c.perShard {
		for k := range s.entries {
			delete(s.entries, k)
			break
		}
	}
	s.entries[key] = e
}

func (c *cache) invalidate(key string) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.entries, key)
	s.gen++
	s.mu.Unlock()
}

// invalidateAll marks every entry for revalidation without dropping it, so the entries stay
// available as last-known-good answers if the store is down.
func (c *cache) invalidateAll(now time.Time) {
	c.validAfter.Store(now.UnixNano())
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		s.mu.Unlock()
	}
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// codeSets interns the sorted lists of cluster codes that usernames are bound to. There are
// far fewer distinct lists than usernames (most users have one cluster), so a cache entry holds
// a 4-byte index instead of a slice of its own.
type codeSets struct {
	mu    sync.Mutex
	index map[string]uint32          // codes joined by NUL → position in list
	list  atomic.Pointer[[][]string] // copy-on-write: the hot path reads without locking
}

func newCodeSets() *codeSets {
	s := &codeSets{index: map[string]uint32{"": 0}}
	s.list.Store(&[][]string{nil})
	return s
}

// get returns the codes of set i.
func (s *codeSets) get(i uint32) []string { return (*s.list.Load())[i] }

// intern returns the index of codes (sorted, interned strings), adding it if new.
func (s *codeSets) intern(codes []string) uint32 {
	if len(codes) == 0 {
		return 0
	}
	key := strings.Join(codes, "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		return i
	}
	old := *s.list.Load()
	list := append(old[:len(old):len(old)], codes)
	i := uint32(len(list) - 1)
	s.index[key] = i
	s.list.Store(&list)
	return i
}
