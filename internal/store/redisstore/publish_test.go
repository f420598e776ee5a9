package redisstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

// watchedPair opens a writer and a reader on one private Redis, the reader watching, and
// waits out the All of the first subscription.
func watchedPair(t *testing.T) (srv *redisServer, writer *Store, changes <-chan directory.Change) {
	t.Helper()
	srv = startRedis(t)
	prefix := uniquePrefix(t)
	writer = openStore(t, Options{Addrs: []string{srv.addr}, Prefix: prefix})
	reader := openStore(t, Options{Addrs: []string{srv.addr}, Prefix: prefix})
	changes = watchChanges(t, reader)
	waitChange(t, changes, 3*time.Second, "the first subscription", isAll)
	if err := writer.PutCluster(t.Context(), directory.Cluster{Code: "A", Name: "a", SSOURL: "http://a/", ServerURL: "http://a/"}); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, time.Second, "PutCluster", isAll)
	return srv, writer, changes
}

var errInjected = errors.New("injected publish failure")

// Issue 8 item 6: a failed publish was only logged, so the other instance served the old
// answer for up to cache.ttl. A publish that fails once is retried and still arrives in 1 s.
func TestPublishFailingOnceStillReachesTheOtherInstance(t *testing.T) {
	_, writer, changes := watchedPair(t)
	var failures atomic.Int32
	writer.pub.fault = func(attempt int) error {
		if failures.Add(1) == 1 {
			return errInjected
		}
		return nil
	}
	// A write whose own deadline is all but spent: the announcement has deadlines of its own.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := writer.Bind(ctx, directory.NamespaceUser, "alice", "A"); err != nil {
		t.Fatal(err)
	}
	d := waitChange(t, changes, time.Second, "Bind after a failed first publish", isUser(directory.NamespaceUser, "alice"))
	if failures.Load() < 2 {
		t.Fatalf("the injected failure was not hit (%d attempts)", failures.Load())
	}
	t.Logf("announced after one failed attempt, seen after %s", d)
}

// A publish that cannot be sent at all is followed by an All as soon as Redis takes
// publishes again, even when no further change would reveal the gap.
func TestLostPublishIsFollowedByAnAll(t *testing.T) {
	_, writer, changes := watchedPair(t)
	var failing atomic.Bool
	failing.Store(true)
	writer.pub.fault = func(int) error {
		if failing.Load() {
			return errInjected
		}
		return nil
	}
	if err := writer.Bind(t.Context(), directory.NamespaceUser, "alice", "A"); err != nil {
		t.Fatalf("a failed announcement must not fail the write: %v", err)
	}
	select {
	case c := <-changes:
		t.Fatalf("a change arrived although every publish failed: %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
	failing.Store(false)
	d := waitChange(t, changes, time.Second, "the All after a lost publish", isAll)
	t.Logf("All after the lost publish arrived %s after publishes worked again", d)
}

// A jump in a publisher's sequence numbers means a message was missed: the receiver reports
// All (revalidation). A repeated number (a retried batch) and a new publisher do not.
func TestSequenceGapTriggersRevalidation(t *testing.T) {
	srv, writer, changes := watchedPair(t)
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	send := func(id string, seq uint64, payload string) {
		t.Helper()
		if err := raw.Do(t.Context(), raw.B().Publish().Channel(writer.keys.pub).Message(frame(id, seq, payload)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, want ...directory.Change) {
		t.Helper()
		for _, w := range want {
			select {
			case c := <-changes:
				if c != w {
					t.Fatalf("%s: got %+v, want %+v", what, c, w)
				}
			case <-time.After(time.Second):
				t.Fatalf("%s: no change within 1 s, want %+v", what, w)
			}
		}
		select {
		case c := <-changes:
			t.Fatalf("%s: unexpected %+v", what, c)
		case <-time.After(100 * time.Millisecond):
		}
	}
	user := func(name string) directory.Change {
		return directory.Change{Namespace: directory.NamespaceUser, Username: name}
	}
	send("p1", 7, "user\x00a") // a publisher first heard of mid-sequence
	expect("first message of a publisher", user("a"))
	send("p1", 8, "user\x00b")
	expect("the next number", user("b"))
	send("p1", 8, "user\x00b") // a retried batch arriving twice
	expect("a repeated number", user("b"))
	send("p1", 10, "user\x00c") // 9 never arrived
	expect("a gap", directory.Change{All: true})
	send("p2", 1, "user\x00d")
	expect("another publisher", user("d"))
}

func TestUnframe(t *testing.T) {
	cases := []struct {
		name, msg, id, payload string
		seq                    uint64
		ok                     bool
	}{
		{name: "framed", msg: frame("ab12", 42, "user\x00x"), id: "ab12", seq: 42, payload: "user\x00x", ok: true},
		{name: "framed All", msg: frame("ab12", 1, changeAll), id: "ab12", seq: 1, payload: changeAll, ok: true},
		// An older version's message: its payload as it stands.
		{name: "unframed", msg: "user\x00x", payload: "user\x00x"},
		{name: "bad number", msg: "\x01ab:x\x01*", payload: "\x01ab:x\x01*"},
		{name: "no end of header", msg: "\x01ab:1*", payload: "\x01ab:1*"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, seq, payload, ok := unframe(c.msg)
			if id != c.id || seq != c.seq || payload != c.payload || ok != c.ok {
				t.Fatalf("unframe(%q) = %q %d %q %v", c.msg, id, seq, payload, ok)
			}
		})
	}
}
