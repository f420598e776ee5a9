package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/ratelimit"
)

// TestLimiterKeysOnCluster pins SPEC section 6 (issue 8 item 9): limiter keys carry a hash of
// the username, so usernames written with "{…}" cannot pick their Redis Cluster slot (and
// pile every counter of a crafted set of names onto one node). It runs the real limiter on a
// real 3-master cluster.
func TestLimiterKeysOnCluster(t *testing.T) {
	addrs := startCluster(t)
	prefix := uniquePrefix(t)
	s := openStore(t, Options{Addrs: addrs, Prefix: prefix, Timeout: 5 * time.Second})
	l := ratelimit.New(s, ratelimit.Options{UserFailures: 3, StoreTimeout: 5 * time.Second})
	ctx := context.Background()
	var users []string
	for i := range 8 {
		users = append(users, ratelimit.UserSubject("user", "{victim}"+strconv.Itoa(i)))
	}
	users = append(users, ratelimit.UserSubject("manager", "a}{b"), ratelimit.UserSubject("user", "{}"))
	for _, u := range users {
		for i := range 3 {
			a, err := l.Begin(ctx, u, "192.0.2.1")
			if err != nil {
				t.Fatalf("%s: failure %d refused: %v", u, i+1, err)
			}
			a.Done(ctx, ratelimit.Failure)
		}
		var le *ratelimit.LimitedError
		if _, err := l.Begin(ctx, u, "192.0.2.1"); !errors.As(err, &le) || le.RetryAfter != 15*time.Minute {
			t.Fatalf("%s after 3 failures: %v, want the 15 min lock", u, err)
		}
	}
	if st := l.Stats(); st.Fallbacks != 0 || st.StoreErrors != 0 {
		t.Fatalf("the limiter fell back on the cluster: %+v", st)
	}

	nodesWithUserKeys := 0
	total := 0
	for addr, node := range s.client.Nodes() {
		keys, err := node.Do(ctx, node.B().Keys().Pattern(prefix+"rl:*").Build()).AsStrSlice()
		if err != nil {
			t.Fatalf("KEYS on %s: %v", addr, err)
		}
		userKeys := 0
		for _, k := range keys {
			if strings.Contains(k, "victim") || strings.Contains(k, "a}{b") || strings.Contains(k, "{}") {
				t.Errorf("key %q on %s carries a raw username", k, addr)
			}
			if strings.Contains(k, "{u:") {
				userKeys++
			}
		}
		total += len(keys)
		if userKeys > 0 {
			nodesWithUserKeys++
		}
	}
	// 10 usernames × (counter, in flight, lock, strikes) + the address's two.
	if total != 10*4+2 {
		t.Errorf("%d limiter keys in the cluster, want %d", total, 10*4+2)
	}
	// With the raw names, all "{victim}…" counters would share the slot of "victim".
	if nodesWithUserKeys < 2 {
		t.Errorf("every username's counters sit on %d node(s): the names chose the slot", nodesWithUserKeys)
	}
}
