package deadline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestEndsWithinItsTimeoutLessOneSlot(t *testing.T) {
	const d = 100 * time.Millisecond
	start := time.Now()
	ctx, cancel := After(context.Background(), d)
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || dl.After(time.Now().Add(d)) || dl.Before(start.Add(d-slotLength(d))) {
		t.Fatalf("deadline %v after the start, want within [%v, %v]", dl.Sub(start), d-slotLength(d), d)
	}
	if ctx.Err() != nil {
		t.Fatalf("ended early: %v", ctx.Err())
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("never ended")
	}
	if took := time.Since(start); took < d-slotLength(d) {
		t.Fatalf("ended after %v, more than a slot before its timeout %v", took, d)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err after the end = %v, want DeadlineExceeded", ctx.Err())
	}
}

func TestCallsOfOneSlotShareOneContext(t *testing.T) {
	const d = 10 * time.Second // a slot of 156 ms: calls in a quick loop share it
	a, _ := After(context.Background(), d)
	b, _ := After(context.Background(), d)
	if a != b {
		t.Fatal("two calls a moment apart got two contexts")
	}
	other, _ := After(context.Background(), d/2)
	if other == a {
		t.Fatal("another timeout shares the slot")
	}
}

type key struct{}

func TestCarriesTheParentsValues(t *testing.T) {
	parent := context.WithValue(context.Background(), key{}, "span")
	ctx, cancel := After(parent, time.Second)
	defer cancel()
	if ctx.Value(key{}) != "span" {
		t.Fatal("the parent's value is lost")
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Fatal("no deadline")
	}
}

func TestACancellableParentStillCancels(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	ctx, cancel := After(parent, time.Minute)
	defer cancel()
	cancelParent()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the parent's cancellation did not reach the context")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want Canceled", ctx.Err())
	}
}

func TestNestedBounds(t *testing.T) {
	outer, _ := After(context.Background(), time.Second)
	if inner, _ := After(outer, time.Second); inner != outer {
		t.Fatal("an inner bound as long as the outer one made a new context")
	}
	inner, _ := After(outer, 20*time.Millisecond)
	if inner == outer {
		t.Fatal("a shorter inner bound was not applied")
	}
	select {
	case <-inner.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the shorter inner bound never ended")
	}
	if outer.Err() != nil {
		t.Fatal("the inner bound ended the outer one")
	}
}

func TestDerivedContextsEndWithTheSlot(t *testing.T) {
	ctx, _ := After(context.Background(), 30*time.Millisecond)
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	stopped, cancelStopped := context.WithCancel(ctx)
	cancelStopped() // derived and cancelled before the end: its callback is withdrawn
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a context derived from the slot did not end with it")
	}
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("derived Err = %v, want DeadlineExceeded", child.Err())
	}
	if !errors.Is(stopped.Err(), context.Canceled) {
		t.Fatalf("cancelled child Err = %v", stopped.Err())
	}
	late, cancelLate := context.WithCancel(ctx) // derived after the end: ends at once
	defer cancelLate()
	select {
	case <-late.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a context derived after the end did not end")
	}
}

func TestConcurrentCalls(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				ctx, cancel := After(context.Background(), 5*time.Millisecond)
				if _, ok := ctx.Deadline(); !ok {
					t.Error("no deadline")
				}
				_ = ctx.Err()
				cancel()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkAfter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := After(context.Background(), time.Second)
		_ = ctx.Done()
		cancel()
	}
}

func BenchmarkWithTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = ctx.Done()
		cancel()
	}
}
