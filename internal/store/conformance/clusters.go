package conformance

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

var clusterTests = []subtest{
	{"Cluster/PutGet", testClusterPutGet},
	{"Cluster/Replace", testClusterReplace},
	{"Cluster/GetUnknown", testClusterGetUnknown},
	{"Cluster/ListOrderedByCode", testClusterList},
	{"Cluster/Delete", testClusterDelete},
}

func testClusterPutGet(t *testing.T, s Backend) {
	// Every field must round-trip, including the optional ones and the unicode name the seed
	// uses ("北京市教委环境").
	want := []directory.Cluster{
		{Code: "BJEDU", Name: "北京市教委环境", SSOURL: "http://10.0.0.1:8080/sso",
			ServerURL: "http://10.0.0.1:8080/server", TokenURL: "https://sso.bj.example/oauth/token", Enabled: true},
		{Code: "TEST0525", Name: "测试用", SSOURL: "http://t.example/sso", ServerURL: "http://t.example/server"},
		{Code: strings.Repeat("A", 64), Name: "longest code", SSOURL: "http://a/", ServerURL: "http://b/", Enabled: true},
		{Code: "A-B_C9", Name: "punctuation", SSOURL: "http://a/", ServerURL: "http://b/"},
	}
	for _, c := range want {
		if err := s.PutCluster(ctx(t), c); err != nil {
			t.Fatalf("PutCluster(%q): %v", c.Code, err)
		}
	}
	for _, c := range want {
		got, err := s.GetCluster(ctx(t), c.Code)
		if err != nil {
			t.Fatalf("GetCluster(%q): %v", c.Code, err)
		}
		if got != c {
			t.Errorf("GetCluster(%q) = %+v, want %+v", c.Code, got, c)
		}
	}
}

func testClusterReplace(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	// Replacing may clear an optional field and flip enabled; nothing of the old record may
	// survive.
	first := directory.Cluster{Code: "A", Name: "first", SSOURL: "http://one/", ServerURL: "http://one/s",
		TokenURL: "http://one/token", Enabled: true}
	second := directory.Cluster{Code: "A", Name: "second", SSOURL: "http://two/", ServerURL: "http://two/s"}
	for _, c := range []directory.Cluster{first, second} {
		if err := s.PutCluster(ctx(t), c); err != nil {
			t.Fatalf("PutCluster: %v", err)
		}
		got, err := s.GetCluster(ctx(t), "A")
		if err != nil {
			t.Fatalf("GetCluster: %v", err)
		}
		if got != c {
			t.Fatalf("after replace GetCluster = %+v, want %+v", got, c)
		}
	}
	list, err := s.ListClusters(ctx(t))
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	if len(list) != 1 || list[0] != second {
		t.Fatalf("ListClusters = %+v, want only %+v", list, second)
	}
}

func testClusterGetUnknown(t *testing.T, s Backend) {
	if _, err := s.GetCluster(ctx(t), "NOPE"); !isNotFound(err) {
		t.Fatalf("GetCluster(unknown) error = %v, want ErrNotFound", err)
	}
	putClusters(t, s, "NOPEX")
	// A code that is a prefix of an existing one is still unknown.
	if _, err := s.GetCluster(ctx(t), "NOPE"); !isNotFound(err) {
		t.Fatalf("GetCluster(prefix of existing) error = %v, want ErrNotFound", err)
	}
}

func testClusterList(t *testing.T, s Backend) {
	list, err := s.ListClusters(ctx(t))
	if err != nil {
		t.Fatalf("ListClusters on empty store: %v", err)
	}
	if len(list) != 0 {
		t.Fatalf("ListClusters on empty store = %+v, want none", list)
	}
	// Inserted out of order; '-' < digits < letters < '_' in byte order.
	codes := []string{"ZED", "A_1", "A-1", "B", "A1", "TEST0525", "BJEDU"}
	putClusters(t, s, codes...)
	list, err = s.ListClusters(ctx(t))
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.Code)
		if c != testCluster(c.Code) {
			t.Errorf("ListClusters entry %+v, want %+v", c, testCluster(c.Code))
		}
	}
	want := slices.Sorted(slices.Values(codes))
	if !slices.Equal(got, want) {
		t.Fatalf("ListClusters codes = %q, want %q", got, want)
	}
}

func testClusterDelete(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	if err := s.DeleteCluster(ctx(t), "A"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	if _, err := s.GetCluster(ctx(t), "A"); !isNotFound(err) {
		t.Fatalf("GetCluster after delete: error = %v, want ErrNotFound", err)
	}
	list, err := s.ListClusters(ctx(t))
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	if len(list) != 1 || list[0].Code != "B" {
		t.Fatalf("ListClusters after delete = %+v, want only B", list)
	}
	if err := s.DeleteCluster(ctx(t), "A"); !isNotFound(err) {
		t.Fatalf("second DeleteCluster: error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteCluster(ctx(t), "NEVER"); !isNotFound(err) {
		t.Fatalf("DeleteCluster(unknown): error = %v, want ErrNotFound", err)
	}
}

var deleteTests = []subtest{
	{"DeleteCluster/RemovesBindings", testDeleteRemovesBindings},
	{"DeleteCluster/RecreatedSeesNoOldBindings", testDeleteRecreate},
}

// backgroundRemoval is how long a backend may take to drop a deleted cluster's bindings from
// Lookup and ListUsers (directory.Store allows removal in the background).
const backgroundRemoval = 2 * time.Second

func testDeleteRemovesBindings(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user, mgr := directory.NamespaceUser, directory.NamespaceManager
	bind(t, s, user, "only-a", "A")
	bind(t, s, user, "both", "A")
	bind(t, s, user, "both", "B")
	bind(t, s, mgr, "only-a", "A")
	bind(t, s, mgr, "admin", "B")
	var many []string
	for i := range 300 {
		many = append(many, "bulk-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strconv.Itoa(i))
	}
	if err := s.BindMany(ctx(t), user, "A", many); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	if err := s.DeleteCluster(ctx(t), "A"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}

	gone := func(ns directory.Namespace, name string) bool {
		codes, err := s.Lookup(ctx(t), ns, name)
		return err == nil && !slices.Contains(codes, "A")
	}
	listEmpty := func(ns directory.Namespace) bool {
		users, err := tryListAll(ctx(t), s, ns, "A", 1000)
		// A backend may also refuse to list an unknown cluster.
		return (err == nil && len(users) == 0) || isNotFound(err)
	}
	ok := eventually(backgroundRemoval, func() bool {
		return gone(user, "only-a") && gone(user, "both") && gone(mgr, "only-a") &&
			gone(user, many[0]) && gone(user, many[len(many)-1]) && listEmpty(user) && listEmpty(mgr)
	})
	if !ok {
		t.Fatalf("bindings of deleted cluster A still visible after %s", backgroundRemoval)
	}
	// The other cluster's bindings are untouched.
	wantCodes(t, s, user, "both", "B")
	wantCodes(t, s, mgr, "admin", "B")
	wantUsers(t, s, user, "B", "both")
	wantUsers(t, s, mgr, "B", "admin")
}

func testDeleteRecreate(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user, mgr := directory.NamespaceUser, directory.NamespaceManager
	bind(t, s, user, "old-a", "A")
	bind(t, s, user, "old-ab", "A")
	bind(t, s, user, "old-ab", "B")
	bind(t, s, mgr, "old-mgr", "A")
	if err := s.BindMany(ctx(t), user, "A", []string{"old-bulk-1", "old-bulk-2"}); err != nil {
		t.Fatalf("BindMany: %v", err)
	}
	if err := s.DeleteCluster(ctx(t), "A"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	putClusters(t, s, "A")

	// Checked at once, without polling: the Directory filters Lookup answers against the
	// cluster table, so an old binding surviving here would put users into a cluster that
	// nobody bound them to (directory.Store.DeleteCluster).
	wantCodes(t, s, user, "old-a")
	wantCodes(t, s, user, "old-ab", "B")
	wantCodes(t, s, user, "old-bulk-1")
	wantCodes(t, s, mgr, "old-mgr")
	wantUsers(t, s, user, "A")
	wantUsers(t, s, mgr, "A")

	// New bindings to the re-created cluster work, including for a user who had an old one,
	// and a background removal of the old bindings must not take them away.
	bind(t, s, user, "old-ab", "A")
	bind(t, s, user, "new", "A")
	bind(t, s, mgr, "old-mgr", "A")
	check := func() {
		t.Helper()
		wantCodes(t, s, user, "old-ab", "A", "B")
		wantCodes(t, s, user, "new", "A")
		wantCodes(t, s, user, "old-a")
		wantCodes(t, s, mgr, "old-mgr", "A")
		wantUsers(t, s, user, "A", "new", "old-ab")
		wantUsers(t, s, mgr, "A", "old-mgr")
	}
	check()
	time.Sleep(backgroundRemoval / 2)
	check()
}
