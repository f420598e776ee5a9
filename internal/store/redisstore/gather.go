package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/ssogate/ssogate/internal/deadline"
)

// Concurrent requests of one kind, sent to Redis together.
//
// rueidis pipelines concurrent commands on its connection, but its writer writes whatever is
// queued as soon as it finds its queue empty: at saturation most writes carried two or three
// commands (0.36 reads per uncached answer, docs/benchmarks.md), and every write and every
// read is a system call on both sides. A flush delay gathers more, but its sleep is paid even
// when a single caller waits (store.redis_flush_delay: at two logins at a time, 3.5 times
// slower). A gatherer gathers by the round trip instead, and only under load: while fewer
// than gatherBeyond sends of its kind are on the wire, a request is sent at once from its
// caller's goroutine, as before; beyond that it waits, and the requests that waited are sent
// together (for lookups, the one kind gathered today: one DoMulti of their HGETs and one
// HMGET of their cluster ids) as soon as one of the sends on the wire returns. No
// timer: a request waits at most for the first of the round trips already on the wire.
//
// gatherBeyond: with a single send on the wire, the lookups of eight clients at a time were
// 17 % slower (each waited for the previous round trip); with eight they are as fast as plain
// pipelining, while at 64 clients uncached answers still rose from 40–44k to 44–48k req/s
// and keep up where they fell behind before (docs/benchmarks.md, the fifth session).
const gatherBeyond = 8

type gatherer[Req, Res any] struct {
	send    func(ctx context.Context, reqs []Req) []Res // one result per request, in order
	timeout time.Duration                               // a gathered batch's bound (no caller's context to take it from)
	max     int                                         // requests per batch
	wire    int                                         // sends on the wire at once

	mu     sync.Mutex
	onWire int // sends (a request alone or a batch) of this kind on the wire
	queue  []*gathered[Req, Res]
}

// gathered is one request waiting for the batch it rides in.
type gathered[Req, Res any] struct {
	req  Req
	res  Res
	done chan struct{} // closed when res is set
}

func newGatherer[Req, Res any](wire, max int, timeout time.Duration, send func(context.Context, []Req) []Res) *gatherer[Req, Res] {
	return &gatherer[Req, Res]{send: send, timeout: timeout, max: max, wire: wire}
}

// do sends req, alone or with others, and returns its result; an error only when ctx ends
// while req waits for its batch (the batch still runs: its result is dropped).
func (g *gatherer[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	g.mu.Lock()
	if g.onWire < g.wire {
		g.onWire++
		g.mu.Unlock()
		defer g.handOn() // even if send panics: a place never handed on would stall the rest
		return g.send(ctx, []Req{req})[0], nil
	}
	w := &gathered[Req, Res]{req: req, done: make(chan struct{})}
	g.queue = append(g.queue, w)
	g.mu.Unlock()
	select {
	case <-w.done:
		return w.res, nil
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

// handOn gives a send's place on the wire to the requests queued meanwhile, if any.
func (g *gatherer[Req, Res]) handOn() {
	if batch := g.take(); batch != nil {
		go g.drain(batch)
	}
}

// take hands a send's place on the wire to the next batch: up to max of the queued requests,
// oldest first; nil and the place given up when nothing is queued.
func (g *gatherer[Req, Res]) take() []*gathered[Req, Res] {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.onWire--
		return nil
	}
	n := min(len(g.queue), g.max)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil // the next queue starts a new array: batch keeps this one
	}
	return batch
}

// drain sends batches until nothing is queued.
func (g *gatherer[Req, Res]) drain(batch []*gathered[Req, Res]) {
	var reqs []Req
	for batch != nil {
		reqs = reqs[:0]
		for _, w := range batch {
			reqs = append(reqs, w.req)
		}
		ctx, cancel := deadline.After(context.Background(), g.timeout)
		res := g.send(ctx, reqs)
		cancel()
		for i, w := range batch {
			w.res = res[i]
			close(w.done)
		}
		clear(reqs) // no request kept alive by the reused array
		batch = g.take()
	}
}
