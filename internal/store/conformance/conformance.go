package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/store"
)

// Backend is the storage contract the suite pins, declared once in package store.
type Backend = store.Backend

// Run runs the whole suite. open must return a fresh, empty backend each time it is called
// (one per subtest) and register its own cleanup (Close, removing files or keys) with t.
//
// Subtests run one after another, never in parallel. The suite always creates a cluster
// before binding to it, so whether Bind to an unknown cluster fails is left to the backend.
// Expiry is checked with 1 s ttls, polled for up to 3 s; a deleted cluster's bindings may
// linger in Lookup and ListUsers for up to 2 s, but never after the cluster is re-created.
// Backends that implement directory.Watcher (stores shared by several instances) also run
// the Watcher group; a single-process store has no one to tell of its changes.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Helper()
	groups := [][]subtest{clusterTests, bindingTests, listUsersTests, deleteTests, recordTests, lifecycleTests, reconcileTests, leaseTests, auditTests, secretTests}
	if _, shared := open(t).(directory.Watcher); shared {
		groups = append(groups, watcherTests)
	}
	for _, group := range groups {
		for _, st := range group {
			t.Run(st.name, func(t *testing.T) {
				st.fn(t, open(t))
			})
		}
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, s Backend)
}

// opTimeout bounds every store call the suite makes, so a hanging backend fails the test
// instead of stalling the whole run.
const opTimeout = 10 * time.Second

// ctx returns a context for one or a few store calls.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond every 50 ms for at most wait; it reports whether cond became true.
// The loop is bounded so a backend that never converges fails instead of hanging.
func eventually(wait time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(wait)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testCluster(code string) directory.Cluster {
	return directory.Cluster{
		Code:      code,
		Name:      "Cluster " + code,
		SSOURL:    "http://sso.example/" + code,
		ServerURL: "http://server.example/" + code,
		Enabled:   true,
	}
}

func putClusters(t *testing.T, s Backend, codes ...string) {
	t.Helper()
	for _, code := range codes {
		if err := s.PutCluster(ctx(t), testCluster(code)); err != nil {
			t.Fatalf("PutCluster(%q): %v", code, err)
		}
	}
}

func bind(t *testing.T, s Backend, ns directory.Namespace, username, code string) {
	t.Helper()
	if err := s.Bind(ctx(t), ns, username, code); err != nil {
		t.Fatalf("Bind(%s, %q, %q): %v", ns, username, code, err)
	}
}

func lookup(t *testing.T, s Backend, ns directory.Namespace, username string) []string {
	t.Helper()
	codes, err := s.Lookup(ctx(t), ns, username)
	if err != nil {
		t.Fatalf("Lookup(%s, %q): %v", ns, username, err)
	}
	return codes
}

// wantCodes compares a Lookup result; nil and empty are the same answer.
func wantCodes(t *testing.T, s Backend, ns directory.Namespace, username string, want ...string) {
	t.Helper()
	got := lookup(t, s, ns, username)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Lookup(%s, %q) = %q, want %q", ns, username, got, want)
	}
}

// listAll pages through ListUsers with limit and checks the paging rules on the way: no page
// exceeds limit, no username appears twice, and the iteration ends within a bounded number of
// calls. The result is sorted.
func listAll(t *testing.T, s Backend, ns directory.Namespace, code string, limit int) []string {
	t.Helper()
	users, err := tryListAll(ctx(t), s, ns, code, limit)
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func tryListAll(c context.Context, s Backend, ns directory.Namespace, code string, limit int) ([]string, error) {
	seen := map[string]bool{}
	var all []string
	cursor := ""
	// A backend may return empty pages that carry a cursor (Redis SCAN does), so allow
	// slack, but never loop forever.
	for calls := 0; calls < 10_000; calls++ {
		page, next, err := s.ListUsers(c, ns, code, cursor, limit)
		if err != nil {
			return nil, fmt.Errorf("ListUsers(%s, %q, cursor %q, limit %d): %w", ns, code, cursor, limit, err)
		}
		if len(page) > limit {
			return nil, fmt.Errorf("ListUsers(%s, %q, limit %d) returned %d usernames", ns, code, limit, len(page))
		}
		for _, u := range page {
			if seen[u] {
				return nil, fmt.Errorf("ListUsers(%s, %q, limit %d) returned %q twice", ns, code, limit, u)
			}
			seen[u] = true
			all = append(all, u)
		}
		if next == "" {
			slices.Sort(all)
			return all, nil
		}
		if next == cursor && len(page) == 0 {
			return nil, fmt.Errorf("ListUsers(%s, %q) returned its own cursor %q with an empty page: no progress", ns, code, cursor)
		}
		cursor = next
	}
	return nil, fmt.Errorf("ListUsers(%s, %q, limit %d) did not end after 10000 calls", ns, code, limit)
}

// wantUsers compares a complete ListUsers iteration with want (any order).
func wantUsers(t *testing.T, s Backend, ns directory.Namespace, code string, want ...string) {
	t.Helper()
	got := listAll(t, s, ns, code, 100)
	want = slices.Sorted(slices.Values(want))
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListUsers(%s, %q) = %q, want %q", ns, code, got, want)
	}
}

func isNotFound(err error) bool { return errors.Is(err, directory.ErrNotFound) }
