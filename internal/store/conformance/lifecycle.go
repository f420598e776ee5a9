package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

var lifecycleTests = []subtest{
	{"Ping", testPing},
	{"CancelledContext", testCancelledContext},
}

func testPing(t *testing.T, s Backend) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCancelledContext(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	bind(t, s, directory.NamespaceUser, "alice", "A")
	add(t, s, "k", 1, time.Minute)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	user := directory.NamespaceUser
	ops := []struct {
		name string
		call func(context.Context) error
	}{
		{"PutCluster", func(c context.Context) error { return s.PutCluster(c, testCluster("B")) }},
		{"GetCluster", func(c context.Context) error { _, err := s.GetCluster(c, "A"); return err }},
		{"ListClusters", func(c context.Context) error { _, err := s.ListClusters(c); return err }},
		{"DeleteCluster", func(c context.Context) error { return s.DeleteCluster(c, "A") }},
		{"Bind", func(c context.Context) error { return s.Bind(c, user, "bob", "A") }},
		{"Unbind", func(c context.Context) error { return s.Unbind(c, user, "alice", "A") }},
		{"BindMany", func(c context.Context) error { return s.BindMany(c, user, "A", []string{"x", "y"}) }},
		{"Lookup", func(c context.Context) error { _, err := s.Lookup(c, user, "alice"); return err }},
		{"ListUsers", func(c context.Context) error { _, _, err := s.ListUsers(c, user, "A", "", 10); return err }},
		{"Ping", func(c context.Context) error { return s.Ping(c) }},
		{"PutRefresh", func(c context.Context) error { return s.PutRefresh(c, "r", "A", time.Minute) }},
		{"GetRefresh", func(c context.Context) error { _, err := s.GetRefresh(c, "r"); return err }},
		{"Add", func(c context.Context) error { _, err := s.Add(c, "k", 1, time.Minute); return err }},
		{"Peek", func(c context.Context) error { _, _, err := s.Peek(c, "k"); return err }},
		{"Delete", func(c context.Context) error { return s.Delete(c, "k") }},
	}
	for _, op := range ops {
		done := make(chan error, 1)
		go func() { done <- op.call(cancelled) }()
		select {
		case err := <-done:
			// An error, and never ErrNotFound: the Directory would read that as "no such
			// cluster or user" and answer 1001/1004 instead of temporarily_unavailable
			// (SPEC section 3).
			if err == nil {
				t.Errorf("%s with a cancelled context succeeded, want an error", op.name)
			} else if isNotFound(err) {
				t.Errorf("%s with a cancelled context: %v, which reads as ErrNotFound", op.name, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s with a cancelled context did not return within 2s", op.name)
		}
	}
	// Nothing was changed by the refused calls.
	wantCodes(t, s, user, "alice", "A")
	wantCodes(t, s, user, "bob")
	if v, _ := peek(t, s, "k"); v != 1 {
		t.Fatalf("counter after refused Add = %d, want 1", v)
	}
	if _, err := s.GetCluster(ctx(t), "A"); err != nil {
		t.Fatalf("cluster after refused DeleteCluster: %v", err)
	}
}

var watcherTests = []subtest{{"Watcher", testWatcher}}

// testWatcher applies to stores shared between instances: a change made through the admin
// API reaches every instance's cache within 1 s (SPEC section 3).
func testWatcher(t *testing.T, s Backend) {
	w := s.(directory.Watcher)
	putClusters(t, s, "A")
	wctx, cancel := context.WithCancel(t.Context())
	changes := make(chan directory.Change, 1024)
	returned := make(chan error, 1)
	go func() {
		returned <- w.Watch(wctx, func(c directory.Change) {
			select {
			case changes <- c:
			default: // the test only needs some of them
			}
		})
	}()
	defer func() {
		cancel()
		select {
		case <-returned:
		case <-time.After(2 * time.Second):
			t.Errorf("Watch did not return within 2s of its context ending")
		}
	}()

	// The subscription may take a moment to start; bind fresh users until one is seen.
	seen := func(ns directory.Namespace, name string, wait time.Duration) bool {
		timeout := time.After(wait)
		for {
			select {
			case c := <-changes:
				if c.Namespace == ns && c.Username == name {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}
	live := false
	for i := 0; i < 15 && !live; i++ {
		name := fmt.Sprintf("warmup-%d", i)
		bind(t, s, directory.NamespaceUser, name, "A")
		live = seen(directory.NamespaceUser, name, 200*time.Millisecond)
	}
	if !live {
		t.Fatalf("no Change reported for any Bind within 3s of starting Watch")
	}
	bind(t, s, directory.NamespaceManager, "alice", "A")
	if !seen(directory.NamespaceManager, "alice", time.Second) {
		t.Fatalf("no Change for Bind(manager, alice) within 1s")
	}
	if err := s.Unbind(ctx(t), directory.NamespaceManager, "alice", "A"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	if !seen(directory.NamespaceManager, "alice", time.Second) {
		t.Fatalf("no Change for Unbind(manager, alice) within 1s")
	}
}
