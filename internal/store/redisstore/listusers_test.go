package redisstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
)

// TestListUsersInsideOneBucket pages through a bucket that holds far more names than a page:
// the cursor must resume inside the bucket (by name, in byte order), also for a bucket that
// has outgrown listpack encoding and whose field order Redis does not keep stable.
func TestListUsersInsideOneBucket(t *testing.T) {
	s := openStore(t, Options{Addrs: []string{machineRedis()}, Timeout: suiteTimeout})
	ctx := t.Context()
	for _, code := range []string{"A", "B"} {
		if err := s.PutCluster(ctx, testCluster(code)); err != nil {
			t.Fatal(err)
		}
	}
	// Long names (over 64 bytes) share 1024 buckets, so 300 of them in one bucket are quick
	// to find.
	long := strings.Repeat("l", 70)
	target := bucketOf(long + "0")
	var same []string
	for i := 0; len(same) < 300; i++ {
		if name := fmt.Sprintf("%s%d", long, i); bucketOf(name) == target {
			same = append(same, name)
		}
	}
	user := directory.NamespaceUser
	if err := s.BindMany(ctx, user, "A", same); err != nil {
		t.Fatal(err)
	}
	// Every other one is also bound to B, so values differ ("id" and "id,id").
	for i := 0; i < len(same); i += 2 {
		if err := s.Bind(ctx, user, same[i], "B"); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 7, 299, 300, 1000} {
		var got []string
		cursor := ""
		for calls := 0; ; calls++ {
			if calls > 10_000 {
				t.Fatalf("limit %d: no end after 10000 calls", limit)
			}
			page, next, err := s.ListUsers(ctx, user, "A", cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(same))
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: listed %d names (%d distinct), want the %d bound", limit, len(got), len(slices.Compact(got)), len(want))
		}
	}
}

// TestListUsersPagesWithinBudget: when a walk cannot finish a page within the page budget,
// the page comes back short, and the walk still visits everyone exactly once.
func TestListUsersPagesWithinBudget(t *testing.T) {
	s := openStore(t, Options{Addrs: []string{machineRedis()}, Timeout: suiteTimeout})
	ctx := t.Context()
	if err := s.PutCluster(ctx, testCluster("A")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 2000 {
		names = append(names, fmt.Sprintf("budget%05d", i))
	}
	if err := s.BindMany(ctx, directory.NamespaceUser, "A", names); err != nil {
		t.Fatal(err)
	}
	// One round per call, whatever the machine's speed: 2000 names over 132,096 buckets
	// cannot fill a page of 500 in one round (at most 512 buckets).
	s.pageBudget = 0

	seen := map[string]bool{}
	cursor, calls, short := "", 0, 0
	for {
		page, next, err := s.ListUsers(ctx, directory.NamespaceUser, "A", cursor, 500)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if len(page) < 500 && next != "" {
			short++
		}
		for _, u := range page {
			if seen[u] {
				t.Fatalf("%q listed twice", u)
			}
			seen[u] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != len(names) {
		t.Fatalf("listed %d names, want %d", len(seen), len(names))
	}
	if short == 0 {
		t.Fatal("no page came back short")
	}
	t.Logf("%d calls, %d short pages", calls, short)
}
