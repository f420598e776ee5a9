package health

import (
	"sync"
	"testing"
	"time"
)

func newAt(now *time.Time) *Tracker {
	t := New()
	t.now = func() time.Time { return *now }
	t.start = now.Add(-time.Hour)
	return t
}

func TestFiguresOverTheWindow(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	tr := newAt(&now)
	for i := range 100 {
		code := 200
		if i%4 == 0 {
			code = 1002
		}
		tr.Answered(code, "BJ", 0)
		// 95 fast exchanges, 5 slow ones: the p95 is a fast one's bucket.
		elapsed := 3 * time.Millisecond
		if i >= 95 {
			elapsed = 2 * time.Second
		}
		tr.ObserveSSO("BJ", 200, elapsed)
	}
	tr.Answered(1004, "", 0) // no cluster: nobody's figure
	f := tr.Figures("BJ")
	if f.Requests != 100 || f.Share1002 != 0.25 || f.SSOCalls != 100 {
		t.Fatalf("figures = %+v, want 100 requests, 25%% 1002", f)
	}
	if f.SSOP95 < 3*time.Millisecond || f.SSOP95 > 4*time.Millisecond {
		t.Fatalf("p95 = %s, want the 3 ms bucket", f.SSOP95)
	}
	if want := 100 / Window.Seconds(); f.RequestsPS != want {
		t.Fatalf("requests/s = %v, want %v", f.RequestsPS, want)
	}
	// Four minutes later the figures are still there; six minutes later they are gone.
	now = now.Add(4 * time.Minute)
	if f := tr.Figures("BJ"); f.Requests != 100 {
		t.Fatalf("after 4 min: %d requests, want 100", f.Requests)
	}
	now = now.Add(2 * time.Minute)
	tr.Answered(200, "BJ", 0)
	if f := tr.Figures("BJ"); f.Requests != 1 || f.SSOP95 != 0 {
		t.Fatalf("after 6 min: %+v, want only the new request", f)
	}
}

func TestBreakerAndLastError(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	tr := newAt(&now)
	if f := tr.Figures("SH"); f.Breaker != "" || !f.BreakerSince.IsZero() {
		t.Fatalf("unknown cluster figures = %+v", f)
	}
	tr.ObserveSSO("SH", 503, time.Millisecond)
	tr.BreakerChanged("SH", "closed", "open")
	f := tr.Figures("SH")
	if f.Breaker != "open" || !f.BreakerSince.Equal(now) || f.LastError != "HTTP 503" || !f.LastErrorAt.Equal(now) {
		t.Fatalf("figures = %+v", f)
	}
	tr.ObserveSSO("SH", 0, time.Millisecond)
	if f := tr.Figures("SH"); f.LastError == "HTTP 503" {
		t.Fatalf("last error not replaced: %+v", f)
	}
}

// The login path writes from many goroutines at once; run with -race.
func TestConcurrentWriters(t *testing.T) {
	tr := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				tr.Answered(200, "BJ", 0)
				tr.ObserveSSO("BJ", 200, time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if f := tr.Figures("BJ"); f.Requests != 8000 || f.SSOCalls != 8000 {
		t.Fatalf("figures = %+v, want 8000 each", f)
	}
}

func BenchmarkAnswered(b *testing.B) {
	tr := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.Answered(200, "BJ", 0)
			tr.ObserveSSO("BJ", 200, 3*time.Millisecond)
		}
	})
}
