package redisstore

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

// watchChanges runs Watch on s until the test ends and returns the channel of changes.
func watchChanges(t *testing.T, s *Store) <-chan directory.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan directory.Change, 4096)
	returned := make(chan error, 1)
	go func() {
		returned <- s.Watch(ctx, func(c directory.Change) { changes <- c })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-returned:
		case <-time.After(3 * time.Second):
			t.Error("Watch did not return within 3s of its context ending")
		}
	})
	return changes
}

// waitChange waits for a change matching want and returns how long it took.
func waitChange(t *testing.T, changes <-chan directory.Change, within time.Duration, what string,
	want func(directory.Change) bool) time.Duration {
	t.Helper()
	start := time.Now()
	timeout := time.After(within)
	for {
		select {
		case c := <-changes:
			if want(c) {
				return time.Since(start)
			}
		case <-timeout:
			t.Fatalf("no Change for %s within %s", what, within)
		}
	}
}

func isAll(c directory.Change) bool { return c.All }

func isUser(ns directory.Namespace, name string) func(directory.Change) bool {
	return func(c directory.Change) bool { return !c.All && c.Namespace == ns && c.Username == name }
}

// killSubscribers closes every connection of the private server srv that holds a
// subscription, and returns how many it closed.
func killSubscribers(t *testing.T, addr string) int {
	t.Helper()
	n, err := strconv.Atoi(redisCLI(t, addr, "client", "kill", "type", "pubsub"))
	if err != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
	}
	return n
}

// TestWatchAcrossInstances: a change made through one instance reaches another within 1 s
// (SPEC section 3), and a broken feed is reported as "everything may have changed".
func TestWatchAcrossInstances(t *testing.T) {
	srv := startRedis(t)
	prefix := uniquePrefix(t)
	writer := openStore(t, Options{Addrs: []string{srv.addr}, Prefix: prefix})
	reader := openStore(t, Options{Addrs: []string{srv.addr}, Prefix: prefix})
	changes := watchChanges(t, reader)
	// The first subscription is announced as All: what happened before it is unknown.
	waitChange(t, changes, 3*time.Second, "the first subscription", isAll)

	ctx := t.Context()
	if err := writer.PutCluster(ctx, directory.Cluster{Code: "A", Name: "a", SSOURL: "http://a/", ServerURL: "http://a/"}); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "PutCluster", isAll)

	if err := writer.Bind(ctx, directory.NamespaceUser, "alice", "A"); err != nil {
		t.Fatal(err)
	}
	d := waitChange(t, changes, time.Second, "Bind(user, alice)", isUser(directory.NamespaceUser, "alice"))
	t.Logf("Bind through one instance seen by the other after %s", d)

	if err := writer.Unbind(ctx, directory.NamespaceManager, "boss", "A"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "Unbind(manager, boss)", isUser(directory.NamespaceManager, "boss"))

	// A bulk import announces every username, batched into few messages.
	var names []string
	for i := range 3000 {
		names = append(names, strings.Repeat("n", 20)+string(rune('a'+i%26))+strings.Repeat("x", i%40))
	}
	names = append(names, "last-of-the-batch")
	if err := writer.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "BindMany's last username", isUser(directory.NamespaceUser, "last-of-the-batch"))

	if err := writer.DeleteCluster(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "DeleteCluster", isAll)

	if n := killSubscribers(t, srv.addr); n == 0 {
		t.Fatal("found no subscribed connection to kill")
	}
	d = waitChange(t, changes, 5*time.Second, "the resubscription after a killed connection", isAll)
	t.Logf("All reported %s after the feed's connection was killed", d)
	// The feed works again. Each change is awaited before the next: a user's change that
	// arrives while an All is still queued is folded into it (the All covers it), so a Bind
	// right behind the PutCluster could come out as that All alone.
	if err := writer.PutCluster(ctx, directory.Cluster{Code: "B", Name: "b", SSOURL: "http://b/", ServerURL: "http://b/"}); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "PutCluster after the reconnect", isAll)
	if err := writer.Bind(ctx, directory.NamespaceUser, "bob", "B"); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "Bind after the reconnect", isUser(directory.NamespaceUser, "bob"))
}

// TestChangeQueue pins the decoding of payloads and the collapse of an overflowing queue.
func TestChangeQueue(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    []directory.Change
	}{
		{"cluster change", "*", []directory.Change{{All: true}}},
		{"one user", "user\x00alice", []directory.Change{{Namespace: "user", Username: "alice"}}},
		{"batch", "manager\x00a\x00b:c", []directory.Change{
			{Namespace: "manager", Username: "a"}, {Namespace: "manager", Username: "b:c"}}},
		// A payload this version does not understand must not be dropped: it may describe a
		// change, so it is treated as "everything".
		{"unknown namespace", "other\x00x", []directory.Change{{All: true}}},
		{"garbage", "hello", []directory.Change{{All: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := &changeQueue{signal: make(chan struct{}, 1)}
			q.pushPayload(c.payload)
			got := drain(q)
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %+v, want %+v", got, c.want)
				}
			}
		})
	}
	t.Run("overflow collapses to All", func(t *testing.T) {
		q := &changeQueue{signal: make(chan struct{}, 1)}
		for range maxQueued + 1 {
			q.pushPayload("user\x00x")
		}
		if got := drain(q); len(got) != 1 || !got[0].All {
			t.Fatalf("after %d queued changes got %d changes, want one All", maxQueued+1, len(got))
		}
	})
}

func drain(q *changeQueue) []directory.Change {
	ctx, cancel := context.WithCancel(context.Background())
	var got []directory.Change
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	q.run(ctx, func(c directory.Change) { got = append(got, c) })
	return got
}
