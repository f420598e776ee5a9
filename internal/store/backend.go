package store

import (
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/refresh"
)

// Backend is everything a storage backend provides: the directory's clusters and bindings,
// refresh-token records (written in batches) and the limiter's counters. Each part is
// declared by its user (directory.Store, refresh.Store, …); this is their sum, declared once
// for the gateway that opens a backend and for the conformance suite that pins one.
type Backend interface {
	directory.Store
	refresh.Store
	refresh.Batcher
	ratelimit.Counters
}
