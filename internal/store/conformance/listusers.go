package conformance

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
)

var listUsersTests = []subtest{
	{"ListUsers/EmptyCluster", testListUsersEmpty},
	{"ListUsers/Paging", testListUsersPaging},
}

func testListUsersEmpty(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	for _, ns := range directory.Namespaces {
		page, next, err := s.ListUsers(ctx(t), ns, "A", "", 10)
		if err != nil {
			t.Fatalf("ListUsers(%s, empty cluster): %v", ns, err)
		}
		if len(page) != 0 || next != "" {
			t.Fatalf("ListUsers(%s, empty cluster) = %q, next %q; want nothing and an empty cursor", ns, page, next)
		}
	}
}

func testListUsersPaging(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user, mgr := directory.NamespaceUser, directory.NamespaceManager
	const n = 137 // prime, so no limit below divides it
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("u%03d", i))
	}
	if err := s.BindMany(ctx(t), user, "A", want); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	// Noise that must not appear: the same cluster in the other namespace, another cluster,
	// and users bound to both clusters (who must appear once).
	var noiseB, noiseMgr []string
	for i := range 20 {
		noiseB = append(noiseB, fmt.Sprintf("b%03d", i))
		noiseMgr = append(noiseMgr, fmt.Sprintf("m%03d", i))
	}
	if err := s.BindMany(ctx(t), user, "B", append(noiseB, want[:10]...)); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	if err := s.BindMany(ctx(t), mgr, "A", noiseMgr); err != nil {
		t.Fatalf("BindMany: %v", err)
	}

	for _, limit := range []int{1, 2, 7, 50, n - 1, n, n + 1, 1000} {
		// listAll checks each page against limit and fails on a username seen twice.
		got := listAll(t, s, user, "A", limit)
		if !slices.Equal(got, want) {
			t.Fatalf("ListUsers(limit %d) visited %d usernames %q, want the %d bound ones", limit, len(got), got, n)
		}
	}
	if got := listAll(t, s, mgr, "A", 7); !slices.Equal(got, noiseMgr) {
		t.Fatalf("ListUsers(manager, A) = %q, want %q", got, noiseMgr)
	}
	if got, wantB := listAll(t, s, user, "B", 7), slices.Sorted(slices.Values(append(noiseB, want[:10]...))); !slices.Equal(got, wantB) {
		t.Fatalf("ListUsers(user, B) = %q, want %q", got, wantB)
	}

	// Any page of a sequence starts from the cursor of the previous one, not from the start:
	// the first page of limit 10 and the next one share no username.
	first, next, err := s.ListUsers(ctx(t), user, "A", "", 10)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if next == "" {
		t.Fatalf("ListUsers(limit 10) of %d users returned an empty cursor after %d", n, len(first))
	}
	second, _, err := s.ListUsers(ctx(t), user, "A", next, 10)
	if err != nil {
		t.Fatalf("ListUsers(cursor %q): %v", next, err)
	}
	for _, u := range second {
		if slices.Contains(first, u) {
			t.Fatalf("ListUsers page after cursor %q repeats %q", next, u)
		}
	}
}
