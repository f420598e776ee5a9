package redisstore

import (
	"strconv"
	"strings"

	"github.com/ssogate/ssogate/internal/directory"
)

// Key layout (P is Options.Prefix, "ssogate:" by default). Everything below is part of the
// on-disk format: changing a constant or the hash orphans every stored binding.
//
//	P{c}:clusters            hash  code -> cluster JSON
//	P{c}:codes               hash  code -> numeric cluster id
//	P{c}:ids                 hash  id -> code (Lookup translates ids through it)
//	P{c}:seq                 string, the last id handed out (INCR; ids are never reused)
//	P{c}:dead                set   ids of deleted clusters whose bindings are still being swept
//	Pb:NS:{G}:B              hash  username -> "id[,id...]" for usernames of <= 64 bytes
//	Pbl:NS:{G}:B             hash  the same for longer usernames
//	Pr:KEY                   string, refresh-token record (cluster code), PX ttl
//	Prl:KEY                  string, brute-force counter, PX ttl
//	Pchanges                 pub/sub channel of changes (see watch.go)
//
// The {c} hash tag keeps the cluster keys in one slot so that PutCluster and DeleteCluster are
// single Lua scripts in Redis Cluster too. Bucket keys carry the tag {G} = B / 128, so a run
// of up to 128 neighbouring buckets lives in one slot and ListUsers and the sweep can read a
// whole run in one script, while 1024 distinct tags still spread bindings over every master.
const (
	// shortBuckets spreads usernames so that 10 million bindings in a namespace average ~76
	// fields a bucket: under hash-max-listpack-entries (128 by default), so every bucket
	// stays a listpack, which costs ~4 bytes over the username per field (SPEC section 7).
	shortBuckets = 1 << 17
	// longBuckets holds usernames longer than hash-max-listpack-value (64 bytes by default).
	// One such field would turn a whole short bucket into a hashtable (~70 bytes a field), so
	// the rare long names get buckets of their own and only those pay the hashtable price.
	longBuckets = 1 << 10
	// maxListpackName is Redis's default hash-max-listpack-value.
	maxListpackName = 64
	// tagSpan is how many consecutive buckets share a hash tag.
	tagSpan = 128
	// totalBuckets is the number of bucket positions in a namespace: short ones first, then
	// long ones. ListUsers cursors and the sweep walk positions in this order.
	totalBuckets = shortBuckets + longBuckets
)

// bucketOf returns the bucket position of a username. The hash is FNV-1a (64 bit, folded),
// chosen for being stable forever and spreading low bits well; it is not a defence against
// crafted usernames, which could at worst make one bucket a hashtable.
func bucketOf(username string) int {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(username); i++ {
		h ^= uint64(username[i])
		h *= prime64
	}
	h ^= h >> 32
	if len(username) > maxListpackName {
		return shortBuckets + int(h%longBuckets)
	}
	return int(h % shortBuckets)
}

// keys builds key names under one prefix.
type keys struct {
	prefix                               string
	clusters, codes, ids, seq, dead, pub string
}

func newKeys(prefix string) keys {
	c := prefix + "{c}:"
	return keys{
		prefix:   prefix,
		clusters: c + "clusters",
		codes:    c + "codes",
		ids:      c + "ids",
		seq:      c + "seq",
		dead:     c + "dead",
		pub:      prefix + "changes",
	}
}

// bucket returns the key of bucket position pos in namespace ns.
func (k keys) bucket(ns directory.Namespace, pos int) string {
	family, local := "b:", pos
	if pos >= shortBuckets {
		family, local = "bl:", pos-shortBuckets
	}
	b := make([]byte, 0, len(k.prefix)+len(ns)+24)
	b = append(b, k.prefix...)
	b = append(b, family...)
	b = append(b, ns...)
	b = append(b, ":{"...)
	b = strconv.AppendInt(b, int64(local/tagSpan), 10)
	b = append(b, "}:"...)
	b = strconv.AppendInt(b, int64(local), 10)
	return string(b)
}

func (k keys) refresh(key string) string { return k.prefix + "r:" + key }
func (k keys) counter(key string) string {
	var b strings.Builder
	b.Grow(len(k.prefix) + len(counterTag) + len(key))
	k.writeCounter(&b, key)
	return b.String()
}

// counterTag follows the prefix in every counter key.
const counterTag = "rl:"

// writeCounter writes counter's key to b (a batch builds all its keys in one buffer).
func (k keys) writeCounter(b *strings.Builder, key string) {
	b.WriteString(k.prefix)
	b.WriteString(counterTag)
	b.WriteString(key)
}

// runEnd returns the end (exclusive) of the run of buckets that starts at pos and may be read
// by one script: at most n positions, never crossing a hash-tag boundary or the boundary
// between short and long buckets.
func runEnd(pos, n int) int {
	local, base := pos, 0
	if pos >= shortBuckets {
		local, base = pos-shortBuckets, shortBuckets
	}
	end := (local/tagSpan + 1) * tagSpan
	if end > local+n {
		end = local + n
	}
	return base + end
}
