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
// One writer drains whatever has queued into a single batch (one bbolt transaction, one Redis
// pipeline), so the cost per login is a channel send, not an fsync or a round trip.
type refreshRecorder struct {
	store    refresh.Store
	batcher  refresh.Batcher // nil when the store writes one record at a time
	ttl      time.Duration
	timeout  time.Duration
	logger   *slog.Logger
	queue    chan refresh.Record
	wg       sync.WaitGroup
	failures atomic.Uint64
}

const (
	refreshQueue    = 16384
	refreshMaxBatch = 2048
	refreshWindow   = 50 * time.Millisecond
)

func newRefreshRecorder(store refresh.Store, ttl, timeout time.Duration, logger *slog.Logger) *refreshRecorder {
	r := &refreshRecorder{store: store, ttl: ttl, timeout: timeout, logger: logger, queue: make(chan refresh.Record, refreshQueue)}
	r.batcher, _ = store.(refresh.Batcher)
	r.wg.Add(1)
	go r.run()
	return r
}

func (r *refreshRecorder) record(key, code string) {
	select {
	case r.queue <- refresh.Record{Key: key, ClusterCode: code}:
	default:
		r.failures.Add(1)
		r.logger.Error("refresh-token record dropped: writer queue full", "cluster", code)
	}
}

func (r *refreshRecorder) run() {
	defer r.wg.Done()
	batch := make([]refresh.Record, 0, refreshMaxBatch)
	// Go 1.23 timers: Reset and Stop never leave a stale tick in the channel.
	timer := time.NewTimer(refreshWindow)
	timer.Stop()
	for rec := range r.queue {
		batch = append(batch[:0], rec)
		// Gather for a moment before writing: each write is an fsync on the embedded store,
		// and writing back to back would fsync continuously under load (the benchmarks'
		// largest cost and their p99). A refresh sent within this window may not find its
		// record yet; the window is far shorter than any client's refresh interval.
		timer.Reset(refreshWindow)
	gather:
		for len(batch) < refreshMaxBatch {
			select {
			case rec, ok := <-r.queue:
				if !ok {
					break gather
				}
				batch = append(batch, rec)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		r.write(batch)
	}
}

func (r *refreshRecorder) write(batch []refresh.Record) {
	// A batch is many writes: it gets a few operations' worth of time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*r.timeout)
	defer cancel()
	if r.batcher != nil {
		if err := r.batcher.PutRefreshBatch(ctx, batch, r.ttl); err != nil {
			r.failures.Add(uint64(len(batch)))
			r.logger.Error("refresh-token records not written", "count", len(batch), "err", err)
		}
		return
	}
	for _, rec := range batch {
		if err := r.store.PutRefresh(ctx, rec.Key, rec.ClusterCode, r.ttl); err != nil {
			r.failures.Add(1)
			r.logger.Error("refresh-token record not written", "cluster", rec.ClusterCode, "err", err)
		}
	}
}

// close writes what is queued, then stops the writer.
func (r *refreshRecorder) close() {
	close(r.queue)
	r.wg.Wait()
}
