package admin_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
)

// TestLockoutsRoutes pins the admin side of SPEC section 9's lockouts API over a real limiter:
// usernames are normalised as the token endpoint does, the clear calls the audit hook once,
// and a missing limiter answers 503 ratelimit_disabled.
func TestLockoutsRoutes(t *testing.T) {
	l := ratelimit.New(nil, ratelimit.Options{UserFailures: 2})
	var mu sync.Mutex
	var cleared []admin.LockoutTarget
	e := newEnv(t, func(o *admin.Options) {
		o.Lockouts = l
		o.OnLockoutCleared = func(_ context.Context, tg admin.LockoutTarget) {
			mu.Lock()
			cleared = append(cleared, tg)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	for range 2 {
		a, err := l.Begin(ctx, ratelimit.UserSubject("manager", "boss"), "192.0.2.4")
		if err != nil {
			t.Fatal(err)
		}
		a.Done(ctx, ratelimit.Failure)
	}
	// " boss " is trimmed like a login's username.
	r := e.do(t, "GET", "/admin/lockouts?username=%20boss%20&client=manager", nil).want(t, 200)
	if r.body["locked"] != true || r.body["failures"] != float64(2) || r.body["namespace"] != "manager" || r.body["username"] != "boss" {
		t.Fatalf("GET: %s", r.raw)
	}
	e.do(t, "DELETE", "/admin/lockouts?username=boss&client=manager", nil).want(t, 200)
	e.do(t, "DELETE", "/admin/lockouts?ip=::ffff:192.0.2.4", nil).want(t, 200)
	if r := e.do(t, "GET", "/admin/lockouts?username=boss&client=manager", nil).want(t, 200); r.body["locked"] != false {
		t.Fatalf("after DELETE: %s", r.raw)
	}
	want := []admin.LockoutTarget{{Namespace: directory.NamespaceManager, Username: "boss"}, {IP: "192.0.2.4"}}
	if len(cleared) != 2 || cleared[0] != want[0] || cleared[1] != want[1] {
		t.Fatalf("hook saw %+v, want %+v", cleared, want)
	}
	e.do(t, "GET", "/admin/lockouts", nil).want(t, 400)
	e.do(t, "DELETE", "/admin/lockouts?username=a&ip=192.0.2.1", nil).want(t, 400)

	off := newEnv(t)
	if r := off.do(t, "GET", "/admin/lockouts?username=boss", nil).want(t, 503); r.body["error"] != "ratelimit_disabled" {
		t.Fatalf("limiter off: %s", r.raw)
	}
}
