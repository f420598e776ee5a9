package ratelimit

import (
	"errors"
	"testing"
	"time"
)

// TestLockoutState pins the lockouts API's limiter side (SPEC section 9): read and clear a
// username's or an address's state.
func TestLockoutState(t *testing.T) {
	l, _, clk := newLimiter(t, Options{UserFailures: 3, IPFailures: 5})
	alice := UserSubject("user", "alice")
	for range 3 {
		attempt(t, l, alice, "192.0.2.1", Failure)
	}
	st, err := l.UserState(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 3 || st.Strikes != 1 || !st.Locked() || st.LockedUntil.Sub(clk.Now()) < 15*time.Minute {
		t.Fatalf("locked alice: %+v", st)
	}
	if st, _ := l.UserState(t.Context(), UserSubject("manager", "alice")); st.Locked() || st.Failures != 0 {
		t.Fatalf("the manager app's alice shares the state: %+v", st)
	}
	if err := l.ClearUser(t.Context(), alice); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.UserState(t.Context(), alice); st.Locked() || st.Failures != 0 || st.Strikes != 0 {
		t.Fatalf("after clear: %+v", st)
	}
	if err := attempt(t, l, alice, "192.0.2.1", Success); err != nil {
		t.Fatalf("login after clear: %v", err)
	}

	for i := range 5 {
		attempt(t, l, "u"+string(rune('a'+i)), "198.51.100.1", Failure)
	}
	ip, err := l.IPState(t.Context(), "198.51.100.1")
	if err != nil || ip.Failures != 5 || !ip.Locked() {
		t.Fatalf("address: %+v %v", ip, err)
	}
	if err := l.ClearIP(t.Context(), "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	if ip, _ := l.IPState(t.Context(), "198.51.100.1"); ip.Locked() || ip.Failures != 0 {
		t.Fatalf("address after clear: %+v", ip)
	}

	var off *Limiter
	if _, err := off.UserState(t.Context(), alice); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
}

// A store that cannot be read is an error, never "not locked".
func TestLockoutStateStoreDown(t *testing.T) {
	l, f, _ := newFaulty(t, Options{StoreTimeout: 20 * time.Millisecond})
	f.fail.Store(true)
	if _, err := l.UserState(t.Context(), "user:alice"); err == nil {
		t.Fatal("state read with the store down")
	}
	if err := l.ClearUser(t.Context(), "user:alice"); err == nil {
		t.Fatal("clear reported done with the store down")
	}
}
