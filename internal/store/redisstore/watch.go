package redisstore

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

// Changes travel on the pub/sub channel P + "changes". A message is a header naming its
// publisher and sequence number (publish.go) and a payload: either changeAll (a cluster
// changed) or a namespace followed by one or more usernames, each preceded by "\x00";
// NormalizeUsername rejects control characters, so NUL never occurs inside a username.
// Batching the usernames of a BindMany chunk keeps a bulk import from publishing a million
// messages, without invalidating every instance's whole cache as "*" would.
const (
	changeAll = "*"
	// maxPayload keeps one message well under any client output-buffer limit.
	maxPayload = 32 << 10
	// maxQueued bounds the changes waiting for fn; beyond it they collapse into one All.
	maxQueued = 100_000
)

// announce publishes changes of usernames in ns.
func (s *Store) announce(ctx context.Context, ns directory.Namespace, names []string) {
	var payloads []string
	var b strings.Builder
	for _, name := range names {
		if b.Len() > 0 && b.Len()+1+len(name) > maxPayload {
			payloads = append(payloads, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(string(ns))
		}
		b.WriteByte(0)
		b.WriteString(name)
	}
	if b.Len() > 0 {
		payloads = append(payloads, b.String())
	}
	s.publish(ctx, payloads...)
}

// Watch calls fn for every change published by any instance, and with All set each time the
// subscription is (re)established: the first time, because changes made before it are not
// reported, and after an interruption, because messages may have been missed. The feed uses a
// client of its own, so it never delays the store's commands and vice versa. fn runs on one
// goroutine of Watch's, never on the connection's reader, so it may call the store.
func (s *Store) Watch(ctx context.Context, fn func(directory.Change)) error {
	q := &changeQueue{signal: make(chan struct{}, 1), log: s.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.run(ctx, fn)
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		var subscribed atomic.Bool
		err := s.receive(ctx, q, &subscribed)
		if ctx.Err() != nil {
			break
		}
		// No All here: it would come before the new subscription, leaving a window in which
		// changes are missed unreported. The subscription hook reports All once the feed is
		// back.
		s.log.Warn("redis store: change feed interrupted; resubscribing", "err", err)
		if subscribed.Load() {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	<-done
	return nil
}

// receive subscribes on a fresh client and delivers messages to q until the feed breaks in a
// way rueidis does not repair itself, or ctx ends. rueidis resubscribes after a reconnect on
// its own; the subscription hook is how that is noticed.
func (s *Store) receive(ctx context.Context, q *changeQueue, subscribed *atomic.Bool) error {
	client, err := rueidis.NewClient(s.clientO)
	if err != nil {
		return err
	}
	defer client.Close()
	hctx := rueidis.WithOnSubscriptionHook(ctx, func(sub rueidis.PubSubSubscription) {
		// Runs on the connection's reader: it must not block.
		if sub.Kind == "subscribe" {
			subscribed.Store(true)
			q.pushAll()
		}
	})
	sub := client.B().Subscribe().Channel(s.keys.pub).Build()
	return client.Receive(hctx, sub, func(m rueidis.PubSubMessage) { q.pushMessage(m.Message) })
}

// changeQueue decouples the connection from fn: messages are queued without blocking, and
// fn is called on Watch's own goroutine.
type changeQueue struct {
	mu     sync.Mutex
	all    bool
	items  []directory.Change
	signal chan struct{}
	// last is the sequence number last seen from each publisher (publish.go), bounded by
	// maxPublishers; a jump means a message was missed.
	last map[string]uint64
	gaps atomic.Uint64
	log  *slog.Logger
}

// maxPublishers bounds the publishers remembered; each restart of an instance is a new one.
// Forgetting them all costs nothing but the detection of a gap in the very next message.
const maxPublishers = 4096

// pushMessage checks a message's sequence number, then queues its payload. A number past the
// next one expected means a message of that publisher never arrived: everything is
// revalidated (SPEC section 3: an instance that may have missed a notification revalidates).
// The first message of a publisher is taken as it comes: what it sent before this
// subscription was covered by the All that every (re)subscription reports.
func (q *changeQueue) pushMessage(msg string) {
	id, seq, payload, ok := unframe(msg)
	if ok {
		q.mu.Lock()
		if q.last == nil || len(q.last) >= maxPublishers {
			q.last = make(map[string]uint64)
		}
		prev, known := q.last[id]
		gap := known && seq > prev+1
		if !known || seq > prev {
			q.last[id] = seq
		}
		q.mu.Unlock()
		if gap {
			q.gaps.Add(1)
			if q.log != nil {
				q.log.Warn("redis store: a change notification was missed; revalidating the cache",
					"publisher", id, "expected", prev+1, "got", seq)
			}
			q.pushAll()
		}
	}
	q.pushPayload(payload)
}

func (q *changeQueue) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *changeQueue) pushAll() {
	q.mu.Lock()
	q.all, q.items = true, nil
	q.mu.Unlock()
	q.notify()
}

func (q *changeQueue) pushPayload(p string) {
	ns, rest, ok := strings.Cut(p, "\x00")
	if p == changeAll || !ok || !directory.Namespace(ns).Valid() {
		q.pushAll() // a cluster changed, or a payload this version does not understand
		return
	}
	q.mu.Lock()
	if !q.all {
		for name := range strings.SplitSeq(rest, "\x00") {
			if len(q.items) >= maxQueued {
				q.all, q.items = true, nil
				break
			}
			q.items = append(q.items, directory.Change{Namespace: directory.Namespace(ns), Username: name})
		}
	}
	q.mu.Unlock()
	q.notify()
}

func (q *changeQueue) run(ctx context.Context, fn func(directory.Change)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		q.mu.Lock()
		all, items := q.all, q.items
		q.all, q.items = false, nil
		q.mu.Unlock()
		if all {
			fn(directory.Change{All: true})
		}
		for _, c := range items {
			fn(c)
		}
	}
}
