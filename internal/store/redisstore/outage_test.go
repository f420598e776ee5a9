package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// outageTimeout is the store timeout of the outage tests; slack covers scheduling on a busy
// machine. The point is the bound itself: a stalled Redis never answers, so without the
// deadline these calls would hang.
const (
	outageTimeout = 300 * time.Millisecond
	outageSlack   = time.Second
)

func testCluster(code string) directory.Cluster {
	return directory.Cluster{Code: code, Name: code, SSOURL: "http://sso.example/", ServerURL: "http://api.example/", Enabled: true}
}

// failsFast runs every kind of store call and checks that each fails within the deadline
// and never reads as "not found" (which the Directory would turn into 1001/1004 instead of
// temporarily_unavailable, SPEC section 3).
func failsFast(t *testing.T, s *Store, when string) {
	t.Helper()
	user := directory.NamespaceUser
	ops := []struct {
		name string
		call func(context.Context) error
	}{
		{"Lookup", func(c context.Context) error { _, err := s.Lookup(c, user, "alice"); return err }},
		{"Bind", func(c context.Context) error { return s.Bind(c, user, "bob", "A") }},
		{"BindMany", func(c context.Context) error { return s.BindMany(c, user, "A", []string{"x", "y"}) }},
		{"ListUsers", func(c context.Context) error { _, _, err := s.ListUsers(c, user, "A", "", 10); return err }},
		{"GetCluster", func(c context.Context) error { _, err := s.GetCluster(c, "A"); return err }},
		{"ListClusters", func(c context.Context) error { _, err := s.ListClusters(c); return err }},
		{"Ping", func(c context.Context) error { return s.Ping(c) }},
		{"Add", func(c context.Context) error { _, err := s.Add(c, "k", 1, time.Minute); return err }},
		{"GetRefresh", func(c context.Context) error { _, err := s.GetRefresh(c, "r"); return err }},
	}
	var worst time.Duration
	for _, op := range ops {
		start := time.Now()
		err := op.call(context.Background())
		took := time.Since(start)
		worst = max(worst, took)
		if err == nil {
			t.Errorf("%s %s succeeded", op.name, when)
		} else if errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%s %s: %v reads as ErrNotFound", op.name, when, err)
		}
		if took > outageTimeout+outageSlack {
			t.Errorf("%s %s took %s, want at most the store timeout %s (+%s slack)", op.name, when, took, outageTimeout, outageSlack)
		}
	}
	t.Logf("%d kinds of call %s: the slowest failed after %s", len(ops), when, worst.Round(time.Millisecond))
}

// eventuallyOK polls fn until it succeeds or wait has passed.
func eventuallyOK(t *testing.T, wait time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not back within %s: %v", what, wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// aliceOnPrivateRedis opens a store with the outage timeout on a private server, with cluster
// A and alice bound to it.
func aliceOnPrivateRedis(t *testing.T) (*redisServer, *Store) {
	t.Helper()
	srv := startRedis(t)
	s := openStore(t, Options{Addrs: []string{srv.addr}, Timeout: outageTimeout})
	ctx := t.Context()
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(ctx, directory.NamespaceUser, "alice", "A"); err != nil {
		t.Fatal(err)
	}
	return srv, s
}

// TestStalledRedis: a Redis that accepts nothing (SIGSTOP: the connection stays open, no
// answer comes) makes every call fail within the store timeout, and the store recovers by
// itself when Redis resumes.
func TestStalledRedis(t *testing.T) {
	srv, s := aliceOnPrivateRedis(t)
	ctx := t.Context()
	srv.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { srv.cmd.Process.Signal(syscall.SIGCONT) })
	failsFast(t, s, "with Redis stalled")
	srv.signal(t, syscall.SIGCONT)
	eventuallyOK(t, 10*time.Second, "Lookup after Redis resumed", func() error {
		codes, err := s.Lookup(ctx, directory.NamespaceUser, "alice")
		if err == nil && (len(codes) != 1 || codes[0] != "A") {
			t.Fatalf("Lookup after resume = %q, want [A]", codes)
		}
		return err
	})
}

// TestRedisRestart: with Redis gone every call fails fast; when it is back on the same
// address the same Store works again without reopening, and a watcher is told that it may
// have missed changes (SPEC section 3: "back when the store returns").
func TestRedisRestart(t *testing.T) {
	srv := startRedis(t)
	s := openStore(t, Options{Addrs: []string{srv.addr}, Timeout: outageTimeout})
	changes := watchChanges(t, s)
	waitChange(t, changes, 3*time.Second, "the first subscription", isAll)
	ctx := t.Context()
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "PutCluster", isAll)

	srv.kill()
	failsFast(t, s, "with Redis down")
	srv.start(t) // same port, empty (nothing is persisted)
	eventuallyOK(t, 10*time.Second, "Ping after Redis restarted", func() error { return s.Ping(ctx) })
	waitChange(t, changes, 10*time.Second, "the resubscription after the restart", isAll)
	if err := s.PutCluster(ctx, testCluster("B")); err != nil {
		t.Fatalf("PutCluster after restart: %v", err)
	}
	// Awaited before the Bind: a user's change arriving while an All is queued is folded into
	// it (see TestWatchAcrossInstances).
	waitChange(t, changes, time.Second, "PutCluster after the restart", isAll)
	if err := s.Bind(ctx, directory.NamespaceUser, "carol", "B"); err != nil {
		t.Fatalf("Bind after restart: %v", err)
	}
	waitChange(t, changes, time.Second, "Bind after the restart", isUser(directory.NamespaceUser, "carol"))
	codes, err := s.Lookup(ctx, directory.NamespaceUser, "carol")
	if err != nil || len(codes) != 1 || codes[0] != "B" {
		t.Fatalf("Lookup after restart = %q, %v; want [B]", codes, err)
	}
}

// TestStalledRedisGatheredLookups: with Redis stalled, lookups beyond the gatherer's places on
// the wire (gather.go) wait in its queue; each still fails within the store timeout, as a
// failure and never as "not found", and once Redis resumes, as many at once are answered.
func TestStalledRedisGatheredLookups(t *testing.T) {
	srv, s := aliceOnPrivateRedis(t)
	type outcome struct {
		codes []string
		err   error
		took  time.Duration
	}
	lookups := func(n int) []outcome {
		out := make([]outcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				codes, err := s.Lookup(context.Background(), directory.NamespaceUser, "alice")
				out[i] = outcome{codes, err, time.Since(start)}
			})
		}
		wg.Wait()
		return out
	}
	bounded := func(o outcome) error {
		if o.took > outageTimeout+outageSlack {
			return fmt.Errorf("took %s, want at most the store timeout %s (+%s slack); %v", o.took, outageTimeout, outageSlack, o.err)
		}
		return nil
	}
	const n = 4 * gatherBeyond
	srv.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { srv.cmd.Process.Signal(syscall.SIGCONT) })
	for i, o := range lookups(n) {
		if err := bounded(o); err != nil {
			t.Fatalf("lookup %d of %d with Redis stalled: %v", i, n, err)
		}
		if o.err == nil || errors.Is(o.err, directory.ErrNotFound) {
			t.Fatalf("lookup %d of %d with Redis stalled: %v; want a failure that is not ErrNotFound", i, n, o.err)
		}
	}
	srv.signal(t, syscall.SIGCONT)
	eventuallyOK(t, 10*time.Second, "lookups after Redis resumed", func() error {
		var errs []error
		for _, o := range lookups(n) {
			switch err := bounded(o); {
			case err != nil:
				errs = append(errs, err)
			case o.err != nil:
				errs = append(errs, o.err)
			case !slices.Equal(o.codes, []string{"A"}):
				errs = append(errs, fmt.Errorf("codes %q, want [A]", o.codes))
			}
		}
		return errors.Join(errs...)
	})
}
