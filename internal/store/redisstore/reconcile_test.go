package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

type testList []string

func (l testList) Open() (directory.NameIterator, error) { return &testIter{l: l}, nil }

type testIter struct {
	l testList
	i int
}

func (it *testIter) Next() (string, bool) {
	if it.i >= len(it.l) {
		return "", false
	}
	it.i++
	return it.l[it.i-1], true
}
func (it *testIter) Err() error   { return nil }
func (it *testIter) Close() error { return nil }

func bucketSorted(names ...string) testList {
	names = slices.Clone(names)
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(bucketOf(a), bucketOf(b)), strings.Compare(a, b))
	})
	return slices.Compact(names)
}

// TestReconcileSendsOneNotification pins the issue's "a reconcile that removes 10,000 users
// must not send 10,000 messages": whatever it changes, a reconcile publishes one message —
// the names when few changed, the cluster-wide "*" otherwise — and none when nothing changed.
func TestReconcileSendsOneNotification(t *testing.T) {
	s := openStore(t, Options{Addrs: []string{machineRedis()}, ReconcileSettle: 50 * time.Millisecond})
	ctx := t.Context()
	if err := s.PutCluster(ctx, directory.Cluster{Code: "A", Name: "a", SSOURL: "http://a/", ServerURL: "http://a/"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 3000 {
		names = append(names, fmt.Sprintf("n%04d", i))
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
		t.Fatal(err)
	}

	sub, err := rueidis.NewClient(s.clientO)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	var mu sync.Mutex
	var got []string
	subscribed := make(chan struct{})
	var once sync.Once
	rctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sub.Receive(rueidis.WithOnSubscriptionHook(rctx, func(rueidis.PubSubSubscription) { once.Do(func() { close(subscribed) }) }),
		sub.B().Subscribe().Channel(s.keys.pub).Build(), func(m rueidis.PubSubMessage) {
			mu.Lock()
			got = append(got, m.Message)
			mu.Unlock()
		})
	select {
	case <-subscribed:
	case <-time.After(5 * time.Second):
		t.Fatal("not subscribed within 5 s")
	}
	messages := func() []string {
		time.Sleep(500 * time.Millisecond) // delivery is well under this on loopback
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}

	// 2,000 removals and one addition: one "*".
	res, err := s.Reconcile(ctx, directory.NamespaceUser, "A", bucketSorted(append(names[:1000:1000], "fresh")...),
		directory.ReconcileOptions{MaxRemovals: -1})
	if err != nil || res.Removed != 2000 || res.Added != 1 {
		t.Fatalf("reconcile = %+v, %v", res, err)
	}
	if m := messages(); len(m) != 1 || m[0] != changeAll {
		t.Fatalf("a reconcile of 2,001 changes published %d messages (%.40q), want one %q", len(m), m, changeAll)
	}
	// Few changes: one message naming them.
	res, err = s.Reconcile(ctx, directory.NamespaceUser, "A", bucketSorted(append(names[1:1000:1000], "fresh", "fresh2")...),
		directory.ReconcileOptions{MaxRemovals: -1})
	if err != nil || res.Removed != 1 || res.Added != 1 {
		t.Fatalf("reconcile = %+v, %v", res, err)
	}
	m := messages()
	if len(m) != 1 || !strings.Contains(m[0], "\x00fresh2") || !strings.Contains(m[0], "\x00"+names[0]) {
		t.Fatalf("a reconcile of 2 changes published %q, want one message naming both", m)
	}
	// No change, and a dry run: nothing.
	if _, err := s.Reconcile(ctx, directory.NamespaceUser, "A", bucketSorted(append(names[1:1000:1000], "fresh", "fresh2")...),
		directory.ReconcileOptions{MaxRemovals: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(ctx, directory.NamespaceUser, "A", bucketSorted(), directory.ReconcileOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if m := messages(); len(m) != 0 {
		t.Fatalf("an unchanged reconcile and a dry run published %q", m)
	}
	// The walk leaves no flag or guard behind.
	id, _ := s.clusterID(ctx, "A")
	n, err := s.client.Do(ctx, s.client.B().Exists().Key(s.keys.reconcileFlag(directory.NamespaceUser, id),
		s.keys.reconcileGuard(directory.NamespaceUser, id, 0), s.keys.reconcileGuard(directory.NamespaceUser, id, shortBuckets-1)).Build()).AsInt64()
	if err != nil || n != 0 {
		t.Fatalf("%d reconcile keys left behind (%v)", n, err)
	}
}
