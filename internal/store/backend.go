package store

import (
	"context"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/syncer"
)

// Backend is everything a storage backend provides: the directory's clusters and bindings,
// refresh-token records (written in batches), the limiter's counters, the scheduled sync's
// leases and status, the audit log and shared secrets. Each part is declared by its user
// (directory.Store, refresh.Store, …); this is their sum, declared once for the gateway that
// opens a backend and for the conformance suite that pins one.
type Backend interface {
	directory.Store
	refresh.Store
	refresh.Batcher
	ratelimit.Counters
	syncer.Store
	audit.Store
	// SharedSecret returns the secret stored under name, storing fresh first when there is
	// none: every caller, on every instance and after restarts, gets the first one stored.
	// The gateway keeps the console's session key this way.
	SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}
