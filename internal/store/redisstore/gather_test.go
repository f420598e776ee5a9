package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// gate is a send function for gatherer tests: every call records its batch, then waits until
// the test opens it; each result is the request times ten.
type gate struct {
	mu      sync.Mutex
	batches [][]int
	open    chan struct{}
}

func (g *gate) send(_ context.Context, reqs []int) []int {
	g.mu.Lock()
	g.batches = append(g.batches, slices.Clone(reqs))
	g.mu.Unlock()
	<-g.open
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = 10 * r
	}
	return out
}

func (g *gate) sent() [][]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches)
}

// waitSent waits until n sends have reached g (a hang detector bounds it).
func (g *gate) waitSent(t *testing.T, n int) {
	t.Helper()
	for start := time.Now(); len(g.sent()) < n; time.Sleep(time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("sent %v, want %d sends", g.sent(), n)
		}
	}
}

// waitQueued waits until n requests wait in g's queue (a hang detector bounds it).
func waitQueued[Req, Res any](t *testing.T, g *gatherer[Req, Res], n int) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		l := len(g.queue)
		g.mu.Unlock()
		if l == n {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d requests queued, want %d", l, n)
		}
	}
}

// A request alone goes at once and alone; those that arrive while it is on the wire go
// together when it returns, at most max at a time, each with its own result; then the wire is
// free again.
func TestGathererBatchesByTheRoundTrip(t *testing.T) {
	gt := &gate{open: make(chan struct{})}
	g := newGatherer(1, 4, time.Minute, gt.send)
	ctx := context.Background()

	first := make(chan int)
	go func() {
		r, _ := g.do(ctx, 1)
		first <- r
	}()
	gt.waitSent(t, 1)
	var wg sync.WaitGroup
	results := make([]int, 11)
	for i := 2; i <= 10; i++ {
		wg.Go(func() {
			r, err := g.do(ctx, i)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			results[i] = r
		})
	}
	waitQueued(t, g, 9)
	if got := gt.sent(); len(got) != 1 || !slices.Equal(got[0], []int{1}) {
		t.Fatalf("while the first is on the wire, sent %v; want only [[1]]", got)
	}
	close(gt.open)
	if r := <-first; r != 10 {
		t.Fatalf("first request's result %d", r)
	}
	wg.Wait()
	for i := 2; i <= 10; i++ {
		if results[i] != 10*i {
			t.Errorf("request %d got %d", i, results[i])
		}
	}
	var sizes []int
	var all []int
	for _, b := range gt.sent()[1:] {
		sizes = append(sizes, len(b))
		all = append(all, b...)
	}
	slices.Sort(all)
	if !slices.Equal(sizes, []int{4, 4, 1}) || !slices.Equal(all, []int{2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("the queued requests went as batches of %v holding %v; want [4 4 1] holding 2…10", sizes, all)
	}
	g.mu.Lock()
	busy := g.onWire
	g.mu.Unlock()
	if busy != 0 {
		t.Fatal("the wire is still marked busy after every batch returned")
	}
	// Alone again: sent at once, alone.
	if r, err := g.do(ctx, 11); r != 110 || err != nil {
		t.Fatalf("a request alone afterwards: %d, %v", r, err)
	}
	if got := gt.sent(); !slices.Equal(got[len(got)-1], []int{11}) {
		t.Fatalf("a request alone afterwards went as %v", got[len(got)-1])
	}
}

// A caller whose context ends while it waits for its batch returns at once with the context's
// error; the batch is still sent and the gatherer goes on.
func TestGathererWaiterGivesUp(t *testing.T) {
	gt := &gate{open: make(chan struct{})}
	g := newGatherer(1, 8, time.Minute, gt.send)
	go g.do(context.Background(), 1)
	gt.waitSent(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	gave := make(chan error)
	go func() {
		_, err := g.do(ctx, 2)
		gave <- err
	}()
	waitQueued(t, g, 1)
	cancel()
	select {
	case err := <-gave:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a waiter whose context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter whose context ended is still waiting")
	}
	close(gt.open)
	if r, err := g.do(context.Background(), 3); r != 30 || err != nil {
		t.Fatalf("after a waiter gave up: %d, %v", r, err)
	}
	// 3 may have queued before 2's batch left (then they went together).
	if got := slices.Concat(gt.sent()...); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("requests sent in the order %v; want 1, 2, 3 (the abandoned one still sent)", got)
	}
}

// Concurrent lookups on a real server, gathered, each get their own answer: bound to one
// cluster, to several, to a deleted cluster (nothing), to none.
func TestConcurrentLookups(t *testing.T) {
	s := openStore(t, Options{Addrs: []string{machineRedis()}})
	ctx := context.Background()
	for _, code := range []string{"A", "B", "GONE"} {
		c := directory.Cluster{Code: code, Name: code, SSOURL: "http://" + code + "/", ServerURL: "http://" + code + "/"}
		if err := s.PutCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{}
	var a, b, gone []string
	for i := range 300 {
		name := fmt.Sprintf("u%d", i)
		switch i % 4 {
		case 0:
			a = append(a, name)
			want[name] = []string{"A"}
		case 1:
			a, b = append(a, name), append(b, name)
			want[name] = []string{"A", "B"}
		case 2:
			gone = append(gone, name)
		}
		// i%4 == 3: never bound
	}
	for code, names := range map[string][]string{"A": a, "B": b, "GONE": gone} {
		if err := s.BindMany(ctx, directory.NamespaceUser, code, names); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteCluster(ctx, "GONE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < 300*4; i += 64 {
				name := fmt.Sprintf("u%d", i%300)
				got, err := s.Lookup(ctx, directory.NamespaceUser, name)
				if err != nil {
					t.Errorf("Lookup(%s): %v", name, err)
					return
				}
				if !slices.Equal(got, want[name]) {
					t.Errorf("Lookup(%s) = %v, want %v", name, got, want[name])
					return
				}
			}
		})
	}
	wg.Wait()
}

// Below its limit of sends on the wire a gatherer changes nothing: each request goes at once,
// alone; only those beyond it wait, and go together.
func TestGathererSendsAloneBelowItsLimit(t *testing.T) {
	gt := &gate{open: make(chan struct{})}
	g := newGatherer(3, 8, time.Minute, gt.send)
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Go(func() { g.do(context.Background(), i) })
	}
	gt.waitSent(t, 3) // three below the limit of three: all on the wire at once
	for i := 4; i <= 5; i++ {
		wg.Go(func() { g.do(context.Background(), i) })
	}
	waitQueued(t, g, 2)
	close(gt.open)
	wg.Wait()
	got := gt.sent()
	for _, b := range got[:3] {
		if len(b) != 1 || b[0] > 3 {
			t.Fatalf("batches %v: the first three must go alone", got)
		}
	}
	if len(got) != 4 || !slices.Equal(slices.Sorted(slices.Values(got[3])), []int{4, 5}) {
		t.Fatalf("batches %v: the two beyond the limit must go together", got)
	}
}
