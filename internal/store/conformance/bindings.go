package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
)

var bindingTests = []subtest{
	{"Binding/LookupUnknownUser", testLookupUnknown},
	{"Binding/BindLookup", testBindLookup},
	{"Binding/NamespacesSeparate", testNamespacesSeparate},
	{"Binding/BindIdempotent", testBindIdempotent},
	{"Binding/Unbind", testUnbind},
	{"Binding/UnbindIdempotent", testUnbindIdempotent},
	{"Binding/SeveralClustersSorted", testSeveralClusters},
	{"Binding/UnusualUsernames", testUnusualUsernames},
	{"Binding/BindMany", testBindMany},
	{"Binding/BindManyLargeBatch", testBindManyLarge},
}

func testLookupUnknown(t *testing.T, s Backend) {
	for _, ns := range directory.Namespaces {
		codes, err := s.Lookup(ctx(t), ns, "nobody")
		if err != nil {
			t.Fatalf("Lookup(%s, unknown): %v; an unknown user is an empty answer, not an error", ns, err)
		}
		if len(codes) != 0 {
			t.Fatalf("Lookup(%s, unknown) = %q, want empty", ns, codes)
		}
	}
}

func testBindLookup(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	bind(t, s, directory.NamespaceUser, "alice", "A")
	wantCodes(t, s, directory.NamespaceUser, "alice", "A")
	wantUsers(t, s, directory.NamespaceUser, "A", "alice")
	// Usernames are exact-case in the store (SPEC section 3; case folding happens before),
	// and a username that is a prefix of a bound one is a different user.
	wantCodes(t, s, directory.NamespaceUser, "Alice")
	wantCodes(t, s, directory.NamespaceUser, "alic")
	wantCodes(t, s, directory.NamespaceUser, "alice2")
}

func testNamespacesSeparate(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user, mgr := directory.NamespaceUser, directory.NamespaceManager
	bind(t, s, user, "alice", "A")
	// The same name in the manager namespace is another person (SPEC section 2, client).
	wantCodes(t, s, mgr, "alice")
	wantUsers(t, s, mgr, "A")
	bind(t, s, mgr, "alice", "B")
	wantCodes(t, s, user, "alice", "A")
	wantCodes(t, s, mgr, "alice", "B")
	wantUsers(t, s, user, "A", "alice")
	wantUsers(t, s, user, "B")
	wantUsers(t, s, mgr, "B", "alice")
	wantUsers(t, s, mgr, "A")
	if err := s.Unbind(ctx(t), mgr, "alice", "B"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	wantCodes(t, s, mgr, "alice")
	wantCodes(t, s, user, "alice", "A")
	if err := s.BindMany(ctx(t), mgr, "A", []string{"bob", "carol"}); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	wantCodes(t, s, user, "bob")
	wantUsers(t, s, user, "A", "alice")
	wantUsers(t, s, mgr, "A", "bob", "carol")
}

func testBindIdempotent(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	for range 3 {
		bind(t, s, directory.NamespaceUser, "alice", "A")
	}
	wantCodes(t, s, directory.NamespaceUser, "alice", "A")
	wantUsers(t, s, directory.NamespaceUser, "A", "alice")
	// One Unbind undoes any number of Binds: there is no reference count.
	if err := s.Unbind(ctx(t), directory.NamespaceUser, "alice", "A"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	wantCodes(t, s, directory.NamespaceUser, "alice")
	wantUsers(t, s, directory.NamespaceUser, "A")
}

func testUnbind(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user := directory.NamespaceUser
	bind(t, s, user, "alice", "A")
	bind(t, s, user, "alice", "B")
	bind(t, s, user, "bob", "A")
	if err := s.Unbind(ctx(t), user, "alice", "A"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	wantCodes(t, s, user, "alice", "B")
	wantCodes(t, s, user, "bob", "A")
	wantUsers(t, s, user, "A", "bob")
	wantUsers(t, s, user, "B", "alice")
	if err := s.Unbind(ctx(t), user, "alice", "B"); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	// A user with no binding left is an unknown user again.
	wantCodes(t, s, user, "alice")
	wantUsers(t, s, user, "B")
}

func testUnbindIdempotent(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user := directory.NamespaceUser
	bind(t, s, user, "alice", "A")
	cases := []struct {
		name, username, code string
	}{
		{"unknown user", "nobody", "A"},
		{"user bound elsewhere", "alice", "B"},
		{"unknown cluster", "alice", "NEVER"},
		{"twice", "alice", "A"},
	}
	for _, c := range cases {
		if err := s.Unbind(ctx(t), user, c.username, c.code); err != nil {
			t.Fatalf("Unbind %s: %v, want nil (Unbind is idempotent)", c.name, err)
		}
	}
	if err := s.Unbind(ctx(t), user, "alice", "A"); err != nil {
		t.Fatalf("second Unbind: %v", err)
	}
	wantCodes(t, s, user, "alice")
	wantUsers(t, s, user, "A")
}

func testSeveralClusters(t *testing.T, s Backend) {
	// Bound out of order; Lookup answers in byte order of the codes, which is the order the
	// 1000 answer lists them in (SPEC section 2).
	codes := []string{"ZED", "TEST0525", "A_1", "BJEDU", "A-1", "A1"}
	putClusters(t, s, codes...)
	for _, code := range codes {
		bind(t, s, directory.NamespaceUser, "multi", code)
	}
	wantCodes(t, s, directory.NamespaceUser, "multi", slices.Sorted(slices.Values(codes))...)
	for _, code := range codes {
		wantUsers(t, s, directory.NamespaceUser, code, "multi")
	}
}

// unusualUsernames are valid after NormalizeUsername yet hostile to naive key layouts:
// separators (':' in Redis key names, '{' hash tags in Redis Cluster), spaces, multi-byte
// text and the 256-byte maximum.
func unusualUsernames() []string {
	return []string{
		"张三",
		"Zoë Ünicode",
		"emoji 😀",
		"with space",
		"a:b",
		"a:b:",
		":",
		"{tag}",
		"{",
		"}x{",
		"user,comma",
		"semi;colon|pipe",
		"quote\"'`",
		"slash/back\\slash",
		"100%",
		"*?[glob]",
		strings.Repeat("x", directory.MaxUsernameBytes),
		strings.Repeat("é", directory.MaxUsernameBytes/2),
		strings.Repeat("x", directory.MaxUsernameBytes-1) + "y",
	}
}

func testUnusualUsernames(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	names := unusualUsernames()
	for _, name := range names {
		bind(t, s, directory.NamespaceUser, name, "A")
	}
	if err := s.BindMany(ctx(t), directory.NamespaceManager, "B", names); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	for _, name := range names {
		wantCodes(t, s, directory.NamespaceUser, name, "A")
		wantCodes(t, s, directory.NamespaceManager, name, "B")
	}
	wantUsers(t, s, directory.NamespaceUser, "A", names...)
	wantUsers(t, s, directory.NamespaceManager, "B", names...)
	sorted := slices.Sorted(slices.Values(names))
	for _, limit := range []int{1, 3} {
		if got := listAll(t, s, directory.NamespaceUser, "A", limit); !slices.Equal(got, sorted) {
			t.Fatalf("ListUsers limit %d = %q, want %q", limit, got, sorted)
		}
	}
	for _, name := range names {
		if err := s.Unbind(ctx(t), directory.NamespaceUser, name, "A"); err != nil {
			t.Fatalf("Unbind(%q): %v", name, err)
		}
		wantCodes(t, s, directory.NamespaceUser, name)
	}
	wantUsers(t, s, directory.NamespaceUser, "A")
}

func testBindMany(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user := directory.NamespaceUser
	bind(t, s, user, "existing", "A")
	bind(t, s, user, "elsewhere", "B")
	if err := s.BindMany(ctx(t), user, "A", nil); err != nil {
		t.Fatalf("BindMany(empty batch): %v", err)
	}
	// Duplicates within the batch and with existing bindings are not errors and are not
	// counted twice.
	batch := []string{"u1", "u2", "u1", "existing", "elsewhere", "u3", "u2"}
	if err := s.BindMany(ctx(t), user, "A", batch); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	wantCodes(t, s, user, "u1", "A")
	wantCodes(t, s, user, "existing", "A")
	wantCodes(t, s, user, "elsewhere", "A", "B")
	wantUsers(t, s, user, "A", "u1", "u2", "u3", "existing", "elsewhere")
	wantUsers(t, s, user, "B", "elsewhere")
	// The same batch again changes nothing.
	if err := s.BindMany(ctx(t), user, "A", batch); err != nil {
		t.Fatalf("BindMany again: %v", err)
	}
	wantUsers(t, s, user, "A", "u1", "u2", "u3", "existing", "elsewhere")
	wantCodes(t, s, user, "u2", "A")
}

func testBindManyLarge(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user := directory.NamespaceUser
	// directory.BulkBindBatch is the size the bulk import writes; a batch this size must
	// go through in one call.
	const n = directory.BulkBindBatch
	names := make([]string, 0, n+n/10)
	for i := range n {
		names = append(names, fmt.Sprintf("user%06d@example.com", i))
	}
	// Duplicates inside the batch.
	names = append(names, names[:n/10]...)
	// Some users are already bound here, some elsewhere.
	for i := 0; i < n; i += 500 {
		bind(t, s, user, names[i], "A")
		bind(t, s, user, names[i+1], "B")
	}
	if err := s.BindMany(ctx(t), user, "A", names); err != nil {
		t.Fatalf("BindMany(%d usernames): %v", len(names), err)
	}
	got := listAll(t, s, user, "A", 1000)
	if len(got) != n {
		t.Fatalf("ListUsers after BindMany found %d usernames, want %d", len(got), n)
	}
	want := slices.Sorted(slices.Values(names[:n]))
	if !slices.Equal(got, want) {
		t.Fatalf("ListUsers after BindMany differs from the batch")
	}
	for _, i := range []int{0, 1, 2, n / 2, n - 1} {
		want := []string{"A"}
		if i%500 == 1 {
			want = []string{"A", "B"}
		}
		wantCodes(t, s, user, names[i], want...)
	}
	wantCodes(t, s, directory.NamespaceManager, names[0])
}
