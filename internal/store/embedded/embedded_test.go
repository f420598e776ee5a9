package embedded_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store/conformance"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend { return open(t, filepath.Join(t.TempDir(), "ssogate.db")) })
}

func open(t testing.TB, path string) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The embedded store is the default because it is durable across restarts (SPEC section 3).
func TestDurableAcrossRestart(t *testing.T) {
	ctx := t.Context()
	// A directory that does not exist yet: Open creates it (store.path default ./data/…).
	path := filepath.Join(t.TempDir(), "data", "nested", "ssogate.db")
	s := open(t, path)
	c := directory.Cluster{Code: "BJEDU", Name: "北京市教委环境", SSOURL: "http://sso/", ServerURL: "http://srv/", Enabled: true}
	steps := []error{
		s.PutCluster(ctx, c),
		s.Bind(ctx, directory.NamespaceUser, "alice", "BJEDU"),
		s.BindMany(ctx, directory.NamespaceManager, "BJEDU", []string{"root", "ops"}),
		s.PutRefresh(ctx, "refresh-key", "BJEDU", time.Hour),
	}
	_, err := s.Add(ctx, "user:alice", 3, time.Hour)
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatalf("Ping after Close succeeded")
	}

	s = open(t, path)
	if got, err := s.GetCluster(ctx, "BJEDU"); err != nil || got != c {
		t.Fatalf("GetCluster after restart = %+v, %v", got, err)
	}
	if codes, err := s.Lookup(ctx, directory.NamespaceUser, "alice"); err != nil || strings.Join(codes, ",") != "BJEDU" {
		t.Fatalf("Lookup after restart = %q, %v", codes, err)
	}
	if users, next, err := s.ListUsers(ctx, directory.NamespaceManager, "BJEDU", "", 10); err != nil ||
		strings.Join(users, ",") != "ops,root" || next != "" {
		t.Fatalf("ListUsers after restart = %q, %q, %v", users, next, err)
	}
	if code, err := s.GetRefresh(ctx, "refresh-key"); err != nil || code != "BJEDU" {
		t.Fatalf("GetRefresh after restart = %q, %v", code, err)
	}
	if v, left, err := s.Peek(ctx, "user:alice"); err != nil || v != 3 || left <= 59*time.Minute {
		t.Fatalf("Peek after restart = %d, %s, %v; want 3 with its expiry kept", v, left, err)
	}
}

// One gateway process owns the file; a second one must fail with a clear error rather than
// hang on the lock (bbolt waits forever without a timeout).
func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssogate.db")
	first := open(t, path)
	start := time.Now()
	second, err := embedded.Open(path, embedded.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatalf("second Open of a locked file succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("second Open took %s to fail", took)
	}
	if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open error %q should say the file %s is locked", err, path)
	}
	// Once the owner closes, the file opens again.
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	open(t, path)
}

func BenchmarkLookup(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "ssogate.db"))
	ctx := context.Background()
	codes := []string{"A", "B", "C"}
	for _, code := range codes {
		if err := s.PutCluster(ctx, directory.Cluster{Code: code, Name: code}); err != nil {
			b.Fatal(err)
		}
	}
	const users = 100_000
	names := make([]string, users)
	for i := range names {
		names[i] = fmt.Sprintf("user%06d@example.com", i)
	}
	// Every user in A, every third also in B: one- and two-code records.
	for start := 0; start < users; start += directory.BulkBindBatch {
		batch := names[start:min(start+directory.BulkBindBatch, users)]
		if err := s.BindMany(ctx, directory.NamespaceUser, "A", batch); err != nil {
			b.Fatal(err)
		}
	}
	var third []string
	for i := 0; i < users; i += 3 {
		third = append(third, names[i])
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "B", third); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		codes, err := s.Lookup(ctx, directory.NamespaceUser, names[rng.IntN(users)])
		if err != nil || len(codes) == 0 {
			b.Fatalf("Lookup = %q, %v", codes, err)
		}
	}
}
