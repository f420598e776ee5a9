package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssogate/ssogate/internal/directory"
)

// Change notifications must not be lost silently (SPEC section 3: a change is seen by every
// instance within 1 s, "also when the write itself was slow"). Three things make that hold:
//
//   - A publish has deadlines of its own (publishAttempts tries of store.timeout each), not
//     what is left of the write's: a slow write no longer leaves its announcement no time.
//   - Every message carries its publisher's id and a sequence number that grows by one per
//     message. A receiver that sees a number jump knows it missed one and revalidates its
//     whole cache (an All change); a repeated number (a retried message that had arrived
//     after all) is harmless.
//   - A payload that could not be sent after every try is followed, as soon as Redis takes
//     publishes again, by an All from the resend loop: its number, one past the lost one's,
//     is the gap the receivers see even if nothing else changes.
const (
	publishAttempts = 3
	publishBackoff  = 50 * time.Millisecond
	// resendEvery paces the resend loop while Redis refuses publishes.
	resendEvery = 200 * time.Millisecond
	// frameMark starts the header "\x01<publisher>:<seq>\x01" of a message. Older versions
	// read a framed message as a payload they do not understand, that is as All: a mixed
	// rollout over-invalidates, never under-invalidates.
	frameMark = "\x01"
)

// publisher numbers the messages of one Store.
type publisher struct {
	id string
	// mu serialises publishes so that numbers reach Redis in order (a receiver would read
	// two concurrent publishes arriving swapped as a gap: safe, but a needless revalidation).
	mu   sync.Mutex
	seq  uint64
	lost atomic.Bool
	kick chan struct{}
	// fault, when set (tests), is asked before every attempt; an error fails the attempt
	// without sending anything, as a broken connection would.
	fault func(attempt int) error
}

func newPublisher() *publisher {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &publisher{id: hex.EncodeToString(b[:]), kick: make(chan struct{}, 1)}
}

func frame(id string, seq uint64, payload string) string {
	return frameMark + id + ":" + strconv.FormatUint(seq, 10) + frameMark + payload
}

// unframe splits a message into its publisher, number and payload; ok is false for a message
// without a header (an older version's), which is then taken as its payload alone.
func unframe(msg string) (id string, seq uint64, payload string, ok bool) {
	rest, found := strings.CutPrefix(msg, frameMark)
	if !found {
		return "", 0, msg, false
	}
	head, payload, found := strings.Cut(rest, frameMark)
	if !found {
		return "", 0, msg, false
	}
	id, n, found := strings.Cut(head, ":")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !found || err != nil || id == "" {
		return "", 0, msg, false
	}
	return id, seq, payload, true
}

// publish announces payloads after the write they describe has been acknowledged, so another
// instance that reloads on receiving them reads the new data. It never fails the write (the
// write is durable, and retrying it would publish again): each payload gets its own deadlines
// and retries, and one that still cannot be sent is made visible to the receivers as a gap
// (see the comment at the top of this file).
func (s *Store) publish(ctx context.Context, payloads ...string) {
	if len(payloads) == 0 {
		return
	}
	// The write's deadline is not the announcement's: only cancellation values are dropped.
	ctx = context.WithoutCancel(ctx)
	p := s.pub
	p.mu.Lock()
	defer p.mu.Unlock()
	msgs := make([]string, 0, len(payloads))
	for _, payload := range payloads {
		p.seq++
		msgs = append(msgs, frame(p.id, p.seq, payload))
	}
	if err := s.sendPublishes(ctx, msgs); err != nil {
		s.log.Warn("redis store: change written but not announced to other instances; they will revalidate once Redis takes publishes again",
			"err", err, "messages", len(msgs))
		p.lost.Store(true)
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// sendPublishes sends msgs, retrying the whole batch: a message that did arrive before a
// failure arrives twice, which receivers ignore.
func (s *Store) sendPublishes(ctx context.Context, msgs []string) error {
	var err error
	for attempt := range publishAttempts {
		if attempt > 0 {
			time.Sleep(publishBackoff << (attempt - 1))
		}
		if err = s.sendPublishesOnce(ctx, attempt, msgs); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d attempts: %w", publishAttempts, err)
}

// sendPublishesOnce is one pipelined attempt with a deadline of its own.
func (s *Store) sendPublishesOnce(ctx context.Context, attempt int, msgs []string) error {
	if f := s.pub.fault; f != nil {
		if err := f(attempt); err != nil {
			return err
		}
	}
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmds := make(rueidis.Commands, 0, len(msgs))
	for _, m := range msgs {
		// In Redis Cluster a PUBLISH may go to any node, and rueidis picks one at random per
		// call (the dead seed of a failover among them). Pinned to the slot of the channel's
		// name, every publish goes to one node (that slot's master), so the messages reach
		// other nodes' subscribers over one link, in order: no false gaps. Other modes ignore
		// the slot.
		cmds = append(cmds, s.client.B().Publish().Channel(s.keys.pub).Message(m).Build().SetSlot(s.keys.pub))
	}
	for _, r := range s.client.DoMulti(actx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// resendLoop publishes an All after a lost message, every resendEvery until one goes
// through, so that receivers revalidate even if no further change comes to reveal the gap.
func (s *Store) resendLoop(ctx context.Context) {
	defer s.wg.Done()
	p := s.pub
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		for p.lost.Load() && ctx.Err() == nil {
			p.mu.Lock()
			p.seq++
			err := s.sendPublishesOnce(ctx, 0, []string{frame(p.id, p.seq, changeAll)})
			if err == nil {
				p.lost.Store(false)
			}
			p.mu.Unlock()
			if err == nil {
				s.log.Info("redis store: change feed resumed; other instances revalidate")
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(resendEvery):
			}
		}
	}
}

// AnnounceAll tells every instance that anything may have changed: each revalidates its
// whole cache and reloads its cluster table. It is the one notification for a bulk change
// (a reconcile of a cluster, a cluster change), and never fails: see publish.
func (s *Store) AnnounceAll(ctx context.Context) { s.publish(ctx, changeAll) }

// AnnounceUsers tells every instance that the bindings of names in ns changed, batched into
// few messages; for thousands of names at once AnnounceAll is cheaper for the receivers.
func (s *Store) AnnounceUsers(ctx context.Context, ns directory.Namespace, names []string) {
	s.announce(ctx, ns, names)
}
