package tokenapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const leanForm = "grant_type=password&username=nobody&password=secret"

func leanRequest(body string) string {
	return "POST /oauth/token HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Authorization: " + appBasic + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// keepAlive is one client connection that sends requests one after another.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, base string) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{c: c, br: bufio.NewReader(c)}
}

// answer1004 sends the unknown-user login and checks that the answer is 1004, on a connection
// kept open.
func (k *keepAlive) answer1004(t *testing.T) {
	t.Helper()
	k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(k.c, leanRequest(leanForm)); err != nil {
		t.Fatal(err)
	}
	k.read1004(t, false)
}

// read1004 reads a 1004 answer; closing says whether it must end the connection.
func (k *keepAlive) read1004(t *testing.T, closing bool) {
	t.Helper()
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["code"] != float64(CodeUnknownUser) || resp.Close != closing {
		t.Fatalf("got %d close=%v %s", resp.StatusCode, resp.Close, raw)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

func TestConnectionsBeyondBufferedAreServedLean(t *testing.T) {
	tb := newTestbed(t, testbedOptions{limits: Limits{BufferedConns: 2}, tweak: noLimiter})
	var conns []*keepAlive
	for range 5 {
		k := dialKeepAlive(t, tb.base)
		k.answer1004(t) // served (and so dispatched) before the next one dials
		conns = append(conns, k)
	}
	// Every connection, kept or lean, answers request after request.
	for round := range 3 {
		for i, k := range conns {
			t.Logf("round %d, connection %d", round, i)
			k.answer1004(t)
		}
	}
	if got := tb.srv.fullOpen.Load(); got != 2 {
		t.Errorf("connections with kept buffers = %d, want 2", got)
	}
	if got := tb.srv.leanServed.Load(); got != 3 {
		t.Errorf("lean connections = %d, want 3", got)
	}
	// A kept connection that closes frees its place for the next one.
	conns[0].c.Close()
	waitFor(t, "the closed connection's place", func() bool { return tb.srv.fullOpen.Load() == 1 })
	k := dialKeepAlive(t, tb.base)
	k.answer1004(t)
	if full, lean := tb.srv.fullOpen.Load(), tb.srv.leanServed.Load(); full != 2 || lean != 3 {
		t.Errorf("after a kept connection closed, a new one: kept %d, lean %d; want 2, 3", full, lean)
	}
}

func TestShutdownDrainsKeptAndLeanConnections(t *testing.T) {
	tb := newTestbed(t, testbedOptions{limits: Limits{BufferedConns: 1}, tweak: noLimiter})
	kept := dialKeepAlive(t, tb.base)
	kept.answer1004(t)
	lean := dialKeepAlive(t, tb.base)
	lean.answer1004(t)
	busy := dialKeepAlive(t, tb.base) // lean too, with a request half sent when shutdown begins
	busy.answer1004(t)
	if got := tb.srv.leanServed.Load(); got != 2 {
		t.Fatalf("lean connections = %d, want 2", got)
	}
	req := leanRequest(leanForm)
	cut := len(req) - 10
	busy.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(busy.c, req[:cut]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the headers are in: the request is in flight

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- tb.srv.ShutdownWithContext(ctx)
	}()
	// Idle connections, kept and lean, are closed; the one in flight is not.
	for name, k := range map[string]*keepAlive{"kept": kept, "lean": lean} {
		k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := k.br.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("idle %s connection after shutdown: %v, want it closed", name, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := io.WriteString(busy.c, req[cut:]); err != nil {
		t.Fatal(err)
	}
	busy.read1004(t, true) // answered, and told that the connection ends
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not return once the request in flight was answered")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(tb.base, "http://"), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after shutdown")
	}
}

// noLimiter: the unknown-user answers these tests repeat would lock the client out.
func noLimiter(o *Options) { o.Limiter = nil }

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// The reclaiming collection comes once a burst of lean connections is over, never during
// it, never for a steady churn, and not when the gateway collected on its own.
func TestReclaimAfterABurstOnly(t *testing.T) {
	r := newReclaimer(7, 0)
	for served := uint64(400); served <= 2000; served += 400 {
		if r.due(7, served) {
			t.Fatalf("collected during the burst, at %d connections", served)
		}
	}
	if !r.due(7, 2000) {
		t.Fatal("no collection once the burst of 2,000 was over")
	}
	r.collected(8)
	if r.due(8, 2000) {
		t.Fatal("collected again with nothing new")
	}
	// A steady churn: 1,500 new lean connections every look, for a long time.
	served := uint64(2000)
	for range 100 {
		served += 1500
		if r.due(8, served) {
			t.Fatalf("chased a steady churn with a collection at %d", served)
		}
	}
	// The gateway collects on its own meanwhile: nothing owed.
	if r.due(9, served) {
		t.Fatal("collected though the runtime just did")
	}
	if r.due(9, served) {
		t.Fatal("collected after the runtime's own collection with nothing new")
	}
	// Fewer than reclaimAfter new ones, then quiet: not worth a collection.
	if r.due(9, served+reclaimAfter-1) || r.due(9, served+reclaimAfter-1) {
		t.Fatal("collected for fewer than reclaimAfter connections")
	}
}
