package conformance

import (
	"testing"
	"time"
)

var leaseTests = []subtest{
	{"Lease/OneHolder", testLeaseOneHolder},
	{"Lease/Expires", testLeaseExpires},
	{"SyncStatus/RoundTrip", testSyncStatus},
}

func acquire(t *testing.T, s Backend, name, owner string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.AcquireLease(ctx(t), name, owner, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%q, %q): %v", name, owner, err)
	}
	return ok
}

// A lease has one holder at a time (SPEC section 8: one instance runs each sync); the holder
// renews it, others are refused until it is released.
func testLeaseOneHolder(t *testing.T, s Backend) {
	if !acquire(t, s, "sync:A", "one", time.Minute) {
		t.Fatal("a free lease was refused")
	}
	if acquire(t, s, "sync:A", "two", time.Minute) {
		t.Fatal("a held lease was granted to another owner")
	}
	if !acquire(t, s, "sync:A", "one", time.Minute) {
		t.Fatal("the holder could not renew its lease")
	}
	if !acquire(t, s, "sync:B", "two", time.Minute) {
		t.Fatal("leases of different names are not independent")
	}
	// Releasing someone else's lease does nothing.
	if err := s.ReleaseLease(ctx(t), "sync:A", "two"); err != nil {
		t.Fatal(err)
	}
	if acquire(t, s, "sync:A", "two", time.Minute) {
		t.Fatal("a lease released by a non-holder changed hands")
	}
	if err := s.ReleaseLease(ctx(t), "sync:A", "one"); err != nil {
		t.Fatal(err)
	}
	if !acquire(t, s, "sync:A", "two", time.Minute) {
		t.Fatal("a released lease was refused")
	}
}

// A holder that stops renewing loses the lease after its ttl (a crashed instance).
func testLeaseExpires(t *testing.T, s Backend) {
	if !acquire(t, s, "sync:A", "one", 300*time.Millisecond) {
		t.Fatal("a free lease was refused")
	}
	if acquire(t, s, "sync:A", "two", time.Minute) {
		t.Fatal("a fresh lease was granted to another owner")
	}
	if !eventually(3*time.Second, func() bool { return acquire(t, s, "sync:A", "two", time.Minute) }) {
		t.Fatal("an expired lease was never granted to another owner")
	}
}

func testSyncStatus(t *testing.T, s Backend) {
	got, err := s.GetSyncStatus(ctx(t), "A")
	if err != nil || got != nil {
		t.Fatalf("GetSyncStatus of nothing = %q, %v; want nil, nil", got, err)
	}
	for _, v := range []string{`{"runs":1}`, `{"runs":2,"error":"x"}`} {
		if err := s.PutSyncStatus(ctx(t), "A", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSyncStatus(ctx(t), "A")
		if err != nil || string(got) != v {
			t.Fatalf("GetSyncStatus = %q, %v; want %q", got, err, v)
		}
	}
	if got, _ := s.GetSyncStatus(ctx(t), "B"); got != nil {
		t.Fatalf("status of another cluster = %q", got)
	}
}
