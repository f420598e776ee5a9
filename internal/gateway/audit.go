package gateway

import (
	"context"
	"log/slog"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/audit"
)

// newAuditRecorder records into the store when it keeps an audit log (both backends do; a
// test's store may not), with SPEC section 9's retention.
func newAuditRecorder(store Backend, logger *slog.Logger) *audit.Recorder {
	as, _ := store.(audit.Store)
	return audit.NewRecorder(as, audit.DefaultRetention, logger)
}

// auditLockoutCleared records DELETE /admin/lockouts (SPEC section 9: audited) through the
// directory's one hook; the actor is the request's.
func (g *Gateway) auditLockoutCleared(ctx context.Context, t admin.LockoutTarget) {
	e := audit.Entry{Action: audit.ActionLockoutClear, Target: "ip:" + t.IP}
	if t.Username != "" {
		e.Target, e.Namespace = "user:"+t.Username, string(t.Namespace)
	}
	g.dir.RecordChange(ctx, e)
}
