package redisstore

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// TestKeyLayout pins bucket positions and key names: they are the stored format, and a
// change would orphan every binding already in Redis.
func TestKeyLayout(t *testing.T) {
	k := newKeys("ssogate:")
	cases := []struct {
		name, username, key string
	}{
		{"short name", "alice", "ssogate:b:user:{551}:70588"},
		{"email", "user0000001@example.com", "ssogate:b:user:{693}:88781"},
		{"multi-byte", "张三", "ssogate:b:user:{822}:105246"},
		// 64 bytes is the longest value a listpack keeps (hash-max-listpack-value).
		{"64 bytes stays short", strings.Repeat("x", 64), "ssogate:b:user:{965}:123630"},
		{"65 bytes goes long", strings.Repeat("x", 65), "ssogate:bl:user:{6}:802"},
		{"256 bytes", strings.Repeat("x", 256), "ssogate:bl:user:{6}:861"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := k.bucket(directory.NamespaceUser, bucketOf(c.username)); got != c.key {
				t.Fatalf("bucket key of %q = %s, want %s", c.username, got, c.key)
			}
		})
	}
	if got := k.bucket(directory.NamespaceManager, 0); got != "ssogate:b:manager:{0}:0" {
		t.Fatalf("manager bucket 0 = %s", got)
	}
}

func TestRunEnd(t *testing.T) {
	cases := []struct {
		name         string
		pos, n, want int
	}{
		{"whole run inside a tag", 0, 32, 32},
		{"stops at the tag boundary", 120, 32, 128},
		{"starts a new tag", 128, 32, 160},
		{"last short bucket", shortBuckets - 1, 32, shortBuckets},
		// Long buckets have tags of their own; a run never mixes the two families.
		{"first long bucket", shortBuckets, 32, shortBuckets + 32},
		{"last long bucket", totalBuckets - 1, 32, totalBuckets},
	}
	for _, c := range cases {
		if got := runEnd(c.pos, c.n); got != c.want {
			t.Errorf("%s: runEnd(%d, %d) = %d, want %d", c.name, c.pos, c.n, got, c.want)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []struct {
		pos   int
		after string
	}{{0, ""}, {17, "alice"}, {totalBuckets, "a.b/c+d=e 张三"}} {
		pos, after, err := parseCursor(formatCursor(c.pos, c.after))
		if err != nil || pos != c.pos || after != c.after {
			t.Errorf("cursor round trip of (%d, %q) = (%d, %q, %v)", c.pos, c.after, pos, after, err)
		}
	}
	for _, bad := range []string{"x", "12", "-1.", "999999999.", "3.!!"} {
		if _, _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) accepted a malformed cursor", bad)
		}
	}
}

// TestListpackBuckets checks the memory layout on a server with Redis's default encoding
// limits: buckets of short names stay listpacks even when long names are bound too.
func TestListpackBuckets(t *testing.T) {
	srv := startRedis(t)
	s := openStore(t, Options{Addrs: []string{srv.addr}})
	ctx := t.Context()
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 5000 {
		names = append(names, fmt.Sprintf("user%07d@example.com", i))
		if i%100 == 0 {
			names = append(names, fmt.Sprintf("%0100d@a-rather-long-domain.example", i))
		}
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:300] {
		key := s.keys.bucket(directory.NamespaceUser, bucketOf(name))
		enc := redisCLI(t, srv.addr, "object", "encoding", key)
		long := len(name) > maxListpackName
		if !long && enc != "listpack" {
			t.Fatalf("bucket %s of short name %q is %s, want listpack", key, name, enc)
		}
		if long != strings.Contains(key, ":bl:") {
			t.Fatalf("name of %d bytes is in bucket %s", len(name), key)
		}
	}
}

// TestSweep: deleting a cluster removes its id from the buckets in the background, keeps the
// other ids of a field, and empties the dead set when done.
func TestSweep(t *testing.T) {
	srv := startRedis(t)
	s := openStore(t, Options{Addrs: []string{srv.addr}})
	ctx := t.Context()
	for _, code := range []string{"A", "B"} {
		if err := s.PutCluster(ctx, testCluster(code)); err != nil {
			t.Fatal(err)
		}
	}
	user := directory.NamespaceUser
	if err := s.BindMany(ctx, user, "A", []string{"only-a", "both", strings.Repeat("l", 100)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, user, "both", "B"); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, directory.NamespaceManager, "only-a", "A"); err != nil {
		t.Fatal(err)
	}
	idB := redisCLI(t, srv.addr, "hget", s.keys.codes, "B")
	if err := s.DeleteCluster(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	field := func(ns directory.Namespace, name string) string {
		return redisCLI(t, srv.addr, "hget", s.keys.bucket(ns, bucketOf(name)), name)
	}
	deadline := time.Now().Add(30 * time.Second)
	for redisCLI(t, srv.addr, "scard", s.keys.dead) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("the dead set was not emptied within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range []struct {
		ns         directory.Namespace
		name, want string
	}{
		{user, "only-a", ""},
		{user, strings.Repeat("l", 100), ""},
		{directory.NamespaceManager, "only-a", ""},
		{user, "both", idB},
	} {
		if got := field(f.ns, f.name); got != f.want {
			t.Errorf("after the sweep the field of %s/%q = %q, want %q", f.ns, f.name, got, f.want)
		}
	}
}

// TestEncodingLimitWarning: a server whose hash limits would turn buckets into hashtables is
// reported at Open, since memory per binding would silently grow several times.
func TestEncodingLimitWarning(t *testing.T) {
	srv := startRedis(t, "--hash-max-listpack-value", "32")
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	openStore(t, Options{Addrs: []string{srv.addr}, Logger: logger})
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "setting=hash-max-listpack-value value=32 need=64") {
		t.Fatalf("no warning about hash-max-listpack-value in the log:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
