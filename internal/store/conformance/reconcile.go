package conformance

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
)

var reconcileTests = []subtest{
	{"Reconcile/AddsRemovesKeeps", testReconcileBasic},
	{"Reconcile/DryRun", testReconcileDryRun},
	{"Reconcile/MaxRemovals", testReconcileGuard},
	{"Reconcile/Samples", testReconcileSamples},
	{"Reconcile/UnknownCluster", testReconcileUnknown},
	{"Reconcile/WritesDuringReconcile", testReconcileConcurrentWrites},
	{"Reconcile/ManyChunks", testReconcileMany},
}

// list is a ReconcileList over names, sorted the way the store asks (what the directory's
// spool does for real lists). onOpen, when set, runs at the first Next of every Open: the
// moment a store has started reading, which is where the concurrent-write cases act.
type list struct {
	names  []string
	onOpen func()
}

func newList(s Backend, names ...string) *list {
	names = slices.Clone(names)
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.ReconcileRank(a), s.ReconcileRank(b)), strings.Compare(a, b))
	})
	return &list{names: slices.Compact(names)}
}

func (l *list) Open() (directory.NameIterator, error) { return &listIter{l: l}, nil }

type listIter struct {
	l       *list
	i       int
	started bool
}

func (it *listIter) Next() (string, bool) {
	if !it.started {
		it.started = true
		if it.l.onOpen != nil {
			it.l.onOpen()
		}
	}
	if it.i >= len(it.l.names) {
		return "", false
	}
	it.i++
	return it.l.names[it.i-1], true
}

func (it *listIter) Err() error   { return nil }
func (it *listIter) Close() error { return nil }

func reconcile(t *testing.T, s Backend, ns directory.Namespace, code string, l *list, opts directory.ReconcileOptions) directory.ReconcileResult {
	t.Helper()
	res, err := s.Reconcile(ctx(t), ns, code, l, opts)
	if err != nil {
		t.Fatalf("Reconcile(%s, %q, %d names, %+v): %v", ns, code, len(l.names), opts, err)
	}
	return res
}

func wantCounts(t *testing.T, res directory.ReconcileResult, added, removed, unchanged int64) {
	t.Helper()
	if res.Added != added || res.Removed != removed || res.Unchanged != unchanged {
		t.Fatalf("reconcile counts = added %d removed %d unchanged %d, want %d %d %d",
			res.Added, res.Removed, res.Unchanged, added, removed, unchanged)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

var noLimit = directory.ReconcileOptions{MaxRemovals: -1}

func testReconcileBasic(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user, mgr := directory.NamespaceUser, directory.NamespaceManager
	for _, u := range []string{"ann", "bob", "cy"} {
		bind(t, s, user, u, "A")
	}
	bind(t, s, user, "bob", "B") // another cluster's binding of a listed user
	bind(t, s, user, "ann", "B") // and of a removed one: it must survive
	bind(t, s, mgr, "ann", "A")  // the other namespace is another list
	res := reconcile(t, s, user, "A", newList(s, "bob", "cy", "dee", "dee"), directory.ReconcileOptions{MaxRemovals: 10})
	wantCounts(t, res, 1, 1, 2)
	if !slices.Equal(res.SampleAdded, []string{"dee"}) || !slices.Equal(res.SampleRemoved, []string{"ann"}) {
		t.Fatalf("samples = %q / %q, want [dee] / [ann]", res.SampleAdded, res.SampleRemoved)
	}
	if res.DryRun {
		t.Fatal("DryRun set on an applied reconcile")
	}
	wantUsers(t, s, user, "A", "bob", "cy", "dee")
	wantCodes(t, s, user, "ann", "B")
	wantCodes(t, s, user, "bob", "A", "B")
	wantCodes(t, s, user, "dee", "A")
	wantCodes(t, s, mgr, "ann", "A")
	wantUsers(t, s, user, "B", "ann", "bob")
	// Run again: nothing left to do.
	wantCounts(t, reconcile(t, s, user, "A", newList(s, "bob", "cy", "dee"), noLimit), 0, 0, 3)
	// An empty list with no limit empties the cluster, and only it.
	wantCounts(t, reconcile(t, s, user, "A", newList(s), noLimit), 0, 3, 0)
	wantUsers(t, s, user, "A")
	wantCodes(t, s, user, "bob", "B")
}

func testReconcileDryRun(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	user := directory.NamespaceUser
	bind(t, s, user, "old", "A")
	bind(t, s, user, "same", "A")
	// A dry run ignores the guard's refusal too: it reports, it never changes.
	res := reconcile(t, s, user, "A", newList(s, "same", "new"), directory.ReconcileOptions{DryRun: true, MaxRemovals: 0})
	wantCounts(t, res, 1, 1, 1)
	if !res.DryRun || !slices.Equal(res.SampleAdded, []string{"new"}) || !slices.Equal(res.SampleRemoved, []string{"old"}) {
		t.Fatalf("dry run = %+v", res)
	}
	wantUsers(t, s, user, "A", "old", "same")
	wantCodes(t, s, user, "new")
}

func testReconcileGuard(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	user := directory.NamespaceUser
	var bound []string
	for i := range 5 {
		bound = append(bound, fmt.Sprintf("g%d", i))
	}
	if err := s.BindMany(ctx(t), user, "A", bound); err != nil {
		t.Fatal(err)
	}
	// A truncated export (SPEC section 8): one name left of five, four removals over a
	// guard of three: refused, nothing changed, the counts told.
	_, err := s.Reconcile(ctx(t), user, "A", newList(s, "g0", "extra"), directory.ReconcileOptions{MaxRemovals: 3})
	var tooMany *directory.TooManyRemovalsError
	if !errors.As(err, &tooMany) || !errors.Is(err, directory.ErrTooManyRemovals) {
		t.Fatalf("Reconcile over the guard: err = %v, want a TooManyRemovalsError", err)
	}
	if tooMany.Result.Removed != 4 || tooMany.Result.Added != 1 || tooMany.MaxRemovals != 3 {
		t.Fatalf("refusal counts = %+v (max %d), want removed 4 added 1 max 3", tooMany.Result, tooMany.MaxRemovals)
	}
	wantUsers(t, s, user, "A", bound...)
	wantCodes(t, s, user, "extra")
	// Zero means zero: a list that removes nothing passes a guard of 0.
	wantCounts(t, reconcile(t, s, user, "A", newList(s, append(bound, "extra")...), directory.ReconcileOptions{MaxRemovals: 0}), 1, 0, 5)
	// Exactly at the guard passes.
	wantCounts(t, reconcile(t, s, user, "A", newList(s, "g0", "extra"), directory.ReconcileOptions{MaxRemovals: 4}), 0, 4, 2)
	wantUsers(t, s, user, "A", "extra", "g0")
}

func testReconcileSamples(t *testing.T, s Backend) {
	putClusters(t, s, "A")
	user := directory.NamespaceUser
	var old, fresh []string
	for i := range 25 {
		old = append(old, fmt.Sprintf("old%02d", i))
	}
	for i := range 30 {
		fresh = append(fresh, fmt.Sprintf("new%02d", i))
	}
	if err := s.BindMany(ctx(t), user, "A", old); err != nil {
		t.Fatal(err)
	}
	res := reconcile(t, s, user, "A", newList(s, fresh...), noLimit)
	wantCounts(t, res, 30, 25, 0)
	if len(res.SampleAdded) != directory.ReconcileSamples || len(res.SampleRemoved) != directory.ReconcileSamples {
		t.Fatalf("samples hold %d and %d names, want %d each", len(res.SampleAdded), len(res.SampleRemoved), directory.ReconcileSamples)
	}
	for _, n := range res.SampleAdded {
		if !slices.Contains(fresh, n) {
			t.Fatalf("sample_added holds %q, which was not added", n)
		}
	}
	for _, n := range res.SampleRemoved {
		if !slices.Contains(old, n) {
			t.Fatalf("sample_removed holds %q, which was not removed", n)
		}
	}
	wantUsers(t, s, user, "A", fresh...)
}

func testReconcileUnknown(t *testing.T, s Backend) {
	for _, opts := range []directory.ReconcileOptions{noLimit, {DryRun: true}} {
		_, err := s.Reconcile(ctx(t), directory.NamespaceUser, "NOPE", newList(s, "x"), opts)
		if !isNotFound(err) {
			t.Fatalf("Reconcile(unknown cluster, %+v): err = %v, want ErrNotFound", opts, err)
		}
	}
	wantCodes(t, s, directory.NamespaceUser, "x")
}

// testReconcileConcurrentWrites pins "binds made during a reconcile are not lost" (SPEC
// section 8): a Bind and a BindMany of names missing from the list, and an Unbind of a listed
// name, all made while the store reads the list, are kept as they were made. Meanwhile a
// second applying reconcile of the cluster is refused and a dry run is not.
func testReconcileConcurrentWrites(t *testing.T, s Backend) {
	for _, opts := range []directory.ReconcileOptions{noLimit, {MaxRemovals: 100}} {
		t.Run(fmt.Sprintf("max_removals=%d", opts.MaxRemovals), func(t *testing.T) {
			putClusters(t, s, "A")
			user := directory.NamespaceUser
			if err := s.BindMany(ctx(t), user, "A", []string{"stay", "drop", "unbound-meanwhile"}); err != nil {
				t.Fatal(err)
			}
			l := newList(s, "stay", "unbound-meanwhile", "added")
			var busyErr, dryErr error
			l.onOpen = func() {
				if err := s.Bind(ctx(t), user, "late-bind", "A"); err != nil {
					t.Errorf("Bind during reconcile: %v", err)
				}
				if err := s.BindMany(ctx(t), user, "A", []string{"late-bulk-1", "late-bulk-2"}); err != nil {
					t.Errorf("BindMany during reconcile: %v", err)
				}
				if err := s.Unbind(ctx(t), user, "unbound-meanwhile", "A"); err != nil {
					t.Errorf("Unbind during reconcile: %v", err)
				}
				if busyErr == nil {
					_, busyErr = s.Reconcile(ctx(t), user, "A", newList(s), noLimit)
					_, dryErr = s.Reconcile(ctx(t), user, "A", newList(s), directory.ReconcileOptions{DryRun: true})
				}
			}
			reconcile(t, s, user, "A", l, opts)
			if !errors.Is(busyErr, directory.ErrReconcileBusy) {
				t.Errorf("a second applying reconcile during the first: err = %v, want ErrReconcileBusy", busyErr)
			}
			if dryErr != nil {
				t.Errorf("a dry run during an applying reconcile: %v", dryErr)
			}
			wantUsers(t, s, user, "A", "added", "late-bind", "late-bulk-1", "late-bulk-2", "stay")
			// After it, the cluster's next reconcile is free again and sees everything.
			wantCounts(t, reconcile(t, s, user, "A", newList(s, "stay"), noLimit), 0, 4, 1)
		})
	}
}

func testReconcileMany(t *testing.T, s Backend) {
	putClusters(t, s, "A", "B")
	user := directory.NamespaceUser
	const n = 12_000 // more than one chunk or pipeline round of every backend
	var bound, want []string
	for i := range n {
		bound = append(bound, fmt.Sprintf("user-%05d", i))
	}
	if err := s.BindMany(ctx(t), user, "A", bound); err != nil {
		t.Fatal(err)
	}
	if err := s.BindMany(ctx(t), user, "B", bound[:100]); err != nil {
		t.Fatal(err)
	}
	// 1% removed (every 100th), 1% added.
	for i, u := range bound {
		if i%100 != 7 {
			want = append(want, u)
		}
	}
	for i := range n / 100 {
		want = append(want, fmt.Sprintf("fresh-%05d", i))
	}
	res := reconcile(t, s, user, "A", newList(s, want...), directory.ReconcileOptions{MaxRemovals: n / 100})
	wantCounts(t, res, n/100, n/100, n-n/100)
	got := listAll(t, s, user, "A", 1000)
	if !slices.Equal(got, sorted(want)) {
		t.Fatalf("after reconcile ListUsers has %d names, want %d", len(got), len(want))
	}
	wantUsers(t, s, user, "B", bound[:100]...)
}
