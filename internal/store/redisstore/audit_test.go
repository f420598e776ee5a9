package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
)

// SPEC section 9: on Redis the audit log is shared by the instances: what one writes, every
// other reads, in one order.
func TestAuditLogIsSharedByInstances(t *testing.T) {
	prefix := uniquePrefix(t)
	one := openStore(t, Options{Addrs: []string{machineRedis()}, Prefix: prefix})
	two := openStore(t, Options{Addrs: []string{machineRedis()}, Prefix: prefix})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, s := range []*Store{one, two, one} {
		e := audit.Entry{Time: time.Now(), Actor: "ops", Action: audit.ActionUserBind, Target: []string{"user:a", "user:b", "user:c"}[i]}
		if err := s.AppendAudit(ctx, e, audit.DefaultRetention); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Store{one, two} {
		got, next, err := s.ListAudit(ctx, audit.Query{Limit: 10})
		if err != nil || next != "" || len(got) != 3 || got[0].Target != "user:c" || got[1].Target != "user:b" || got[2].Target != "user:a" {
			t.Fatalf("ListAudit = %+v, %q, %v; want c, b, a from both instances", got, next, err)
		}
	}
}
