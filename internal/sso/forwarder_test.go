package sso

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/directory"
)

func cluster(url string) *directory.Cluster {
	return &directory.Cluster{Code: "C", Name: "c", SSOURL: url + "/sso", ServerURL: url}
}

func forward(t *testing.T, f *Forwarder, c *directory.Cluster) (int, error) {
	t.Helper()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	err := f.Forward(c, &Call{Body: []byte("grant_type=password")}, resp)
	return resp.StatusCode(), err
}

func reason(err error) string {
	var u *Unavailable
	if errors.As(err, &u) {
		return u.Reason
	}
	return ""
}

// SPEC section 4: the breaker counts transport failures, timeouts and 5xx only — an SSO's
// 400 to a wrong password is a healthy answer, or password spraying would lock a cluster out.
func TestBreakerIgnores4xxAndOpensOn5xx(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusBadRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte(`{"error":"x"}`))
	}))
	defer srv.Close()
	f := New(Options{BreakerFailures: 3, BreakerOpenFor: time.Minute})
	c := cluster(srv.URL)
	for range 20 {
		if code, err := forward(t, f, c); err != nil || code != 400 {
			t.Fatalf("400s: %d %v", code, err)
		}
	}
	if f.BreakerState("C") != "closed" {
		t.Fatalf("breaker %s after 4xx answers", f.BreakerState("C"))
	}
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	for i := range 3 {
		// A 5xx answer is still an answer: its body is used, and it counts for the breaker.
		if code, err := forward(t, f, c); err != nil || code != 502 {
			t.Fatalf("5xx %d: %d %v", i, code, err)
		}
	}
	start := time.Now()
	_, err := forward(t, f, c)
	if reason(err) != "circuit open" || f.BreakerState("C") != "open" {
		t.Fatalf("after 3 5xx: %v, breaker %s", err, f.BreakerState("C"))
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("an open breaker took %v to answer", time.Since(start))
	}
}

func TestTimeoutsAndRefusals(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	defer close(release)
	f := New(Options{Timeout: 200 * time.Millisecond})
	if _, err := forward(t, f, cluster(slow.URL)); reason(err) != "timeout" {
		t.Fatalf("slow SSO: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	if _, err := forward(t, f, cluster(url)); reason(err) != "transport" {
		t.Fatalf("refused connection: %v", err)
	}
}

func TestInFlightBound(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	f := New(Options{MaxInFlight: 2, Timeout: 10 * time.Second})
	c := cluster(srv.URL)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); forward(t, f, c) }()
	}
	<-arrived
	<-arrived
	start := time.Now()
	_, err := forward(t, f, c)
	if reason(err) != "too many requests in flight" || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("third request: %v after %v", err, time.Since(start))
	}
	if f.InFlight("C") != 2 {
		t.Fatalf("in flight %d", f.InFlight("C"))
	}
	close(release)
	wg.Wait()
}

// A cluster whose token URL changes gets a new pool: requests never go to the old address.
func TestTokenURLChangeReplacesTheUpstream(t *testing.T) {
	hits := make(chan string, 2)
	mk := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits <- name + " " + r.URL.Path
			w.Write([]byte(`{"access_token":"a"}`))
		}))
	}
	a, b := mk("a"), mk("b")
	defer a.Close()
	defer b.Close()
	f := New(Options{})
	c := cluster(a.URL)
	forward(t, f, c)
	c.TokenURL = b.URL + "/custom/token"
	forward(t, f, c)
	if got := []string{<-hits, <-hits}; got[0] != "a /sso/oauth/token" || got[1] != "b /custom/token" {
		t.Fatalf("requests went to %v", got)
	}
}

// SPEC section 4: a refusal by the in-flight bound never moves the breaker. The pool is made
// smaller than the bound so that fasthttp itself refuses (ErrNoFreeConns), the path the
// in-flight counter does not cover (a connection not yet back in the pool).
func TestNoFreeConnsDoesNotMoveTheBreaker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte(`{"access_token":"a"}`))
	}))
	defer srv.Close()
	f := New(Options{BreakerFailures: 1, BreakerOpenFor: time.Minute, MaxInFlight: 16})
	c := cluster(srv.URL)
	up, err := f.upstream(c)
	if err != nil {
		t.Fatal(err)
	}
	up.client.MaxConns = 1
	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	for range 6 {
		wg.Go(func() {
			_, err := forward(t, f, c)
			mu.Lock()
			reasons[reason(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if reasons["too many requests in flight"] == 0 || reasons[""] == 0 {
		t.Fatalf("answers by reason: %v; want successes and in-flight refusals", reasons)
	}
	if st := f.BreakerState("C"); st != "closed" {
		t.Fatalf("breaker %s after in-flight refusals (breaker_failures 1)", st)
	}
	if code, err := forward(t, f, c); err != nil || code != 200 {
		t.Fatalf("after the burst: %d %v", code, err)
	}
}
