package tokenapi

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssogate/ssogate/internal/deadline"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refresh"
)

// refreshRecorder keeps the record of each refresh token handed out, so that a refresh without
// clusterCode finds its cluster. SPEC section 2: the token is routable the moment its login
// answer has left, on every instance — a client refreshing 0 ms after its login must never get
// invalid_grant because a record was still queued (the former recorder gathered for 50 ms
// first and dropped records when its queue was full).
//
// Two ways to keep that promise, chosen by the store:
//
//   - Write-through (a shared store, Redis): each login writes its record before its answer
//     is sent, within store.timeout. The Redis client pipelines concurrent SETs on one
//     connection, so concurrency costs no extra round trips.
//   - Write-behind with a pending view (writeBehind: the embedded store, one process): the
//     record enters an in-process map that every refresh of this process reads first, then a
//     single writer stores batches (one bbolt transaction and fsync per batch instead of one
//     per login). The map is visible to every instance because there is only one. When the
//     queue is full the login writes its record itself: never a silent drop.
//
// A write that fails never fails the login (SPEC section 3): it is logged and counted, and that
// one token needs clusterCode to refresh.
type refreshRecorder struct {
	store       refresh.Store
	batcher     refresh.Batcher
	ttl         time.Duration
	timeout     time.Duration
	logger      *slog.Logger
	writeBehind bool

	mu      sync.RWMutex
	pending map[string]string // key -> cluster code, until stored
	closed  bool
	queue   chan refresh.Record
	wg      sync.WaitGroup

	failures atomic.Uint64
}

const (
	refreshQueue    = 16384
	refreshMaxBatch = 2048
	// refreshWindow is how long the writer gathers before writing. Nothing waits for it (the
	// pending view answers meanwhile); it only bounds how much a crash can lose.
	refreshWindow = 20 * time.Millisecond
)

func newRefreshRecorder(store refresh.Store, ttl, timeout time.Duration, logger *slog.Logger, writeBehind bool, queueLen int) *refreshRecorder {
	r := &refreshRecorder{store: store, ttl: ttl, timeout: timeout, logger: logger}
	r.batcher, _ = store.(refresh.Batcher)
	if writeBehind && r.batcher != nil {
		r.writeBehind = true
		r.pending = make(map[string]string)
		r.queue = make(chan refresh.Record, queueLen)
		r.wg.Add(1)
		go r.run()
	}
	return r
}

// record is called before the login answer is written.
func (r *refreshRecorder) record(requestID, token, code string) {
	key := refresh.Key(token)
	if r.writeBehind {
		// Under the lock: the writer's forget cannot run between the two, and close cannot
		// close the queue under a send (a request still running after a shutdown timeout).
		queued := false
		r.mu.Lock()
		if !r.closed {
			select {
			case r.queue <- refresh.Record{Key: key, ClusterCode: code}:
				r.pending[key] = code
				queued = true
			default: // full: this login writes its own record, as write-through would
			}
		}
		r.mu.Unlock()
		if queued {
			return
		}
	}
	ctx, cancel := deadline.After(context.Background(), r.timeout)
	err := r.store.PutRefresh(ctx, key, code, r.ttl)
	cancel()
	if err != nil {
		r.failed(1, err, slog.String("request_id", requestID), slog.String("cluster", code))
	}
}

// lookup is GetRefresh with the pending view in front.
func (r *refreshRecorder) lookup(ctx context.Context, key string) (string, error) {
	if r.writeBehind {
		r.mu.RLock()
		code, ok := r.pending[key]
		r.mu.RUnlock()
		if ok {
			return code, nil
		}
	}
	return r.store.GetRefresh(ctx, key)
}

func (r *refreshRecorder) forget(keys ...string) {
	r.mu.Lock()
	for _, k := range keys {
		delete(r.pending, k)
	}
	r.mu.Unlock()
}

func (r *refreshRecorder) failed(n int, err error, attrs ...slog.Attr) {
	r.failures.Add(uint64(n))
	// The error may name the record's key (a hash of a live credential) only through the
	// store's wrapped message; the token itself never reaches this line.
	attrs = append(attrs, slog.Int("count", n), slog.String("err", err.Error()))
	r.logger.LogAttrs(context.Background(), slog.LevelError,
		"refresh-token record not written; the token needs clusterCode to refresh", attrs...)
}

func (r *refreshRecorder) run() {
	defer r.wg.Done()
	batch := make([]refresh.Record, 0, refreshMaxBatch)
	backlog := false
	for rec := range r.queue {
		batch = append(batch[:0], rec)
		if !backlog {
			// Asleep through the window, not waiting on the queue: a writer parked on the
			// queue is woken by every login's send (a goroutine and often a thread woken per
			// login); asleep, the queue's buffer takes the records and they are drained at once.
			time.Sleep(refreshWindow)
		}
	drain:
		for len(batch) < refreshMaxBatch {
			select {
			case rec, ok := <-r.queue:
				if !ok {
					break drain
				}
				batch = append(batch, rec)
			default:
				break drain
			}
		}
		backlog = len(batch) == refreshMaxBatch // more may be queued: no sleep before them
		r.write(batch)
	}
}

func (r *refreshRecorder) write(batch []refresh.Record) {
	// A batch is many writes: it gets a few operations' worth of time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*r.timeout)
	err := r.batcher.PutRefreshBatch(ctx, batch, r.ttl)
	cancel()
	keys := make([]string, len(batch))
	for i, rec := range batch {
		keys[i] = rec.Key
	}
	// Stored, or failed and counted: either way the pending view lets go, so a store that
	// keeps failing cannot grow it without bound.
	r.forget(keys...)
	if err != nil {
		r.failed(len(batch), err)
	}
}

// close writes what is queued, then stops the writer.
func (r *refreshRecorder) close() {
	if !r.writeBehind {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.queue)
	r.mu.Unlock()
	r.wg.Wait()
}

// isNotFound reports whether a record lookup found nothing (as opposed to failing).
func isNotFound(err error) bool { return errors.Is(err, directory.ErrNotFound) }
