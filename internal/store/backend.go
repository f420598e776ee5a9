package store

import (
	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
	"github.com/ssogate/ssogate/internal/syncer"
)

// Backend is everything a storage backend provides: the directory's clusters and bindings,
// refresh-token records (written in batches), the limiter's counters and the scheduled
// sync's leases and status. Each part is
// declared by its user (directory.Store, refresh.Store, …); this is their sum, declared once
// for the gateway that opens a backend and for the conformance suite that pins one.
type Backend interface {
	directory.Store
	refresh.Store
	refresh.Batcher
	ratelimit.Counters
	syncer.Store
	audit.Store
}
