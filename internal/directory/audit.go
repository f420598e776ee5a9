package directory

import (
	"context"

	"github.com/ssogate/ssogate/internal/audit"
)

// RecordChange is the one hook through which a change is audited (SPEC section 9). The write
// side calls it after each change it applies; operations that live elsewhere but change what
// the gateway answers (reconcile, a scheduled sync, clearing a lockout) call it with one line:
//
//	d.RecordChange(ctx, audit.Entry{Action: audit.ActionLockoutClear, Target: "user:" + name})
//
// The actor is taken from ctx (WithActor); the time is set by the recorder. Recording never
// fails the change: a lost entry is logged and counted by the recorder.
func (d *Directory) RecordChange(ctx context.Context, e audit.Entry) {
	if d.opts.Audit == nil {
		return
	}
	if e.Actor == "" {
		e.Actor = ActorFrom(ctx)
	}
	d.opts.Audit.Record(ctx, e)
}

// AuditLog reads one page of the audit log, newest first.
func (d *Directory) AuditLog(ctx context.Context, q audit.Query) ([]audit.Entry, string, error) {
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	return d.opts.Audit.List(sctx, q)
}

// AuditFailures counts audit entries that could not be written.
func (d *Directory) AuditFailures() uint64 { return d.opts.Audit.Failures() }

// auditState is what the log keeps of a cluster (nil for none).
func auditState(c *Cluster) *audit.ClusterState {
	if c == nil {
		return nil
	}
	st := &audit.ClusterState{
		Code: c.Code, Name: c.Name, SSOURL: c.SSOURL, ServerURL: c.ServerURL, TokenURL: c.TokenURL, Enabled: c.Enabled,
	}
	if c.Sync != nil {
		// The URL only: the header's value lives in the environment, and even its variable's
		// name stays out of the log.
		st.SyncURL = c.Sync.URL
	}
	return st
}
