package tokenapi

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssogate/ssogate/internal/refresh"
)

// refreshRecorder writes refresh-token records off the hot path: a login answers as soon as the
// SSO has, and a failed side write never fails it (SPEC section 3: it is logged and counted).
// Many concurrent writers let stores that batch coalesce their commits: bbolt's Batch turns
// the writes waiting at one moment into one fsync, Redis pipelines them on one connection.
type refreshRecorder struct {
	store    refresh.Store
	ttl      time.Duration
	timeout  time.Duration
	logger   *slog.Logger
	queue    chan refreshRecord
	wg       sync.WaitGroup
	failures atomic.Uint64
}

type refreshRecord struct{ key, code string }

const (
	refreshQueue   = 16384
	refreshWriters = 256
)

func newRefreshRecorder(store refresh.Store, ttl, timeout time.Duration, logger *slog.Logger) *refreshRecorder {
	r := &refreshRecorder{store: store, ttl: ttl, timeout: timeout, logger: logger, queue: make(chan refreshRecord, refreshQueue)}
	r.wg.Add(refreshWriters)
	for range refreshWriters {
		go r.run()
	}
	return r
}

func (r *refreshRecorder) record(key, code string) {
	select {
	case r.queue <- refreshRecord{key, code}:
	default:
		r.failures.Add(1)
		r.logger.Error("refresh-token record dropped: writer queue full", "cluster", code)
	}
}

func (r *refreshRecorder) run() {
	defer r.wg.Done()
	for rec := range r.queue {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		err := r.store.PutRefresh(ctx, rec.key, rec.code, r.ttl)
		cancel()
		if err != nil {
			r.failures.Add(1)
			r.logger.Error("refresh-token record not written", "cluster", rec.code, "err", err)
		}
	}
}

// close writes what is queued, then stops the writers.
func (r *refreshRecorder) close() {
	close(r.queue)
	r.wg.Wait()
}
