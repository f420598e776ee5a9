package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// Fault isolation (SPEC section 4, issue 4 points 2 and 7): one sick SSO beside two healthy
// ones under concurrent load. The numbers each case observed are logged for the note
// and every one of them is also asserted.

// sickServer is a TCP server that misbehaves in one way and counts the connections it took.
type sickServer struct {
	URL      string
	accepted atomic.Int32
}

func startSick(t *testing.T, behave func(c net.Conn)) *sickServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sickServer{URL: "http://" + ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go behave(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return s
}

// readHead reads until the end of a request's headers (the body is small and follows).
func readHead(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

// Behaviours of a sick SSO.
var (
	hang = func(c net.Conn) { io.Copy(io.Discard, c) } // accepts, reads, never answers
	// reset answers every request by aborting the connection (TCP RST).
	reset = func(c net.Conn) {
		readHead(c)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	// garbage answers bytes that are not HTTP at all.
	garbage = func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "\x00\x01\x02 this is not HTTP {\"access_token\":\r\n\r\n")
		c.Close()
	}
)

// delayed puts a fixed delay before every answer of h.
func delayed(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(d)
			h.ServeHTTP(w, r)
		})
	}
}

// loadClient keeps one keep-alive connection per worker, as the apps' clients would.
var loadClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

func postWith(client *http.Client, e *env, params ...string) reply {
	form := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := client.Do(req)
	if err != nil {
		return reply{Raw: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &r.Body)
	return r
}

// sample is one request of a load run.
type sample struct {
	cluster string
	latency time.Duration
	r       reply
}

// runLoad sends logins from workers goroutines, each cycling through the clusters' users and
// pausing pace between requests, until perWorker requests each or dur have passed. The pause
// keeps the machine (two cores running the clients, the gateway and three SSOs) below
// saturation, so that latency measures the gateway rather than the run queue.
func runLoad(e *env, workers, perWorker int, dur, pace time.Duration, clusters []string, user map[string]string) []sample {
	var mu sync.Mutex
	var out []sample
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perWorker && time.Since(start) < dur; j++ {
				c := clusters[(w+j)%len(clusters)]
				t0 := time.Now()
				r := postWith(loadClient, e, login(user[c], "pw")...)
				s := sample{cluster: c, latency: time.Since(t0), r: r}
				mu.Lock()
				out = append(out, s)
				mu.Unlock()
				time.Sleep(pace)
			}
		}()
	}
	wg.Wait()
	return out
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// breakerStates reads "breaker" per cluster from GET /admin/clusters.
func breakerStates(t *testing.T, e *env) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.adminBase+"/admin/clusters", nil)
	req.Header.Set("Authorization", "Bearer "+e.adminToken)
	resp, err := e.as(t).client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Clusters []struct{ Code, Breaker string }
	}
	decodeJSON(t, resp, &body)
	out := map[string]string{}
	for _, c := range body.Clusters {
		out[c.Code] = c.Breaker
	}
	return out
}

// breakerMetric is ssogate_sso_breaker_state for a cluster (-1 when no sample exists: the
// breaker never changed state).
func breakerMetric(t *testing.T, e *env, cluster string) float64 {
	t.Helper()
	prefix := `ssogate_sso_breaker_state{cluster="` + cluster + `"} `
	for _, line := range strings.Split(scrape(t, e), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// faultCase is one kind of sick SSO.
type faultCase struct {
	name  string
	start func(t *testing.T) (url string, accepted func() int32)
	tweak func(*config.Config)
	// sickOK: the sick cluster still answers logins (slow but within sso.timeout).
	sickOK bool
}

const (
	faultWorkers   = 8
	faultPerWorker = 400 // a bound on the count, beside the bound on time
	faultLoadFor   = 3 * time.Second
	faultPace      = 20 * time.Millisecond
	healthyP99     = 200 * time.Millisecond // generous: loopback answers take a few ms
	openAnswer     = 100 * time.Millisecond // SPEC section 4
)

func TestSickSSODoesNotSlowTheOtherClusters(t *testing.T) {
	for _, tc := range []faultCase{
		{name: "hangs", start: sick(hang), tweak: func(c *config.Config) { c.SSO.Timeout = time.Second; c.SSO.ConnectTimeout = 500 * time.Millisecond }},
		{name: "resets connections", start: sick(reset)},
		{name: "answers garbage", start: sick(garbage)},
		{name: "answers slower than sso.timeout", start: slowSSO(2 * time.Second), tweak: func(c *config.Config) {
			c.SSO.Timeout = time.Second
			c.SSO.ConnectTimeout = 500 * time.Millisecond
		}},
		{name: "answers in 300 ms, within sso.timeout", start: slowSSO(300 * time.Millisecond), sickOK: true},
		// The baseline: the same load with a third healthy cluster, for comparison.
		{name: "baseline, no fault", start: slowSSO(0), sickOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The latency bounds detect a sick SSO leaking into the other clusters (it would
			// add its 300 ms to 1 s to every affected request, every time). This machine's
			// other work can stall the whole process for a few hundred ms at random, so an
			// attempt that meets every other assertion but misses a bound is repeated on a
			// fresh gateway, up to three times in all.
			const attempts = 3
			for i := 1; ; i++ {
				missed := runFaultCase(t, tc)
				if t.Failed() || missed == "" || raceDetector() {
					return
				}
				if i == attempts {
					t.Errorf("%d attempts out of %d missed a latency bound; last: %s", i, attempts, missed)
					return
				}
				t.Logf("attempt %d missed a latency bound (%s); again on a fresh gateway", i, missed)
			}
		})
	}
}

// runFaultCase runs one sick SSO beside two healthy ones under load. Functional failures are
// reported on t; a missed latency bound is returned.
func runFaultCase(t *testing.T, tc faultCase) (missed string) {
	users := map[string]string{"H1": "h1-user", "H2": "h2-user", "SICK": "sick-user"}
	h1 := startRefSSO(t, "H1", map[string]string{"h1-user": "pw"}, -1, nil)
	h2 := startRefSSO(t, "H2", map[string]string{"h2-user": "pw"}, -1, nil)
	sickURL, accepted := tc.start(t)
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("H1", h1.URL), clusterAt("H2", h2.URL), clusterAt("SICK", sickURL)},
		func(c *config.Config) {
			c.SSO.BreakerFailures = 5
			c.SSO.BreakerOpenFor = time.Minute // stays open for the rest of the test
			if tc.tweak != nil {
				tc.tweak(c)
			}
		})
	defer e.stop()
	for c, u := range users {
		e.bind(directory.NamespaceUser, u, c)
	}

	// Warm up: the clients' and the gateway's connection pools fill, the users are cached.
	runLoad(e, faultWorkers, 2, faultLoadFor, 0, []string{"H1", "H2"}, users)
	samples := runLoad(e, faultWorkers, faultPerWorker, faultLoadFor, faultPace, []string{"H1", "H2", "SICK"}, users)
	var healthy, sickLat []time.Duration
	sent := map[string]int{}
	failed := map[string]int{}
	for _, s := range samples {
		sent[s.cluster]++
		ok := s.r.code() == 200 && s.r.str("cluster_code") == s.cluster
		if s.cluster == "SICK" {
			sickLat = append(sickLat, s.latency)
			if !ok {
				failed["SICK"]++
			}
			if tc.sickOK && !ok {
				t.Errorf("SICK within its timeout: %s", s.r.Raw)
			}
			if !tc.sickOK && (s.r.code() != 1002 || s.r.str("error") != "temporarily_unavailable" || s.r.str("cluster_code") != "SICK") {
				t.Errorf("SICK must answer temporarily_unavailable: %s", s.r.Raw)
			}
			continue
		}
		healthy = append(healthy, s.latency)
		if !ok {
			failed[s.cluster]++
			t.Errorf("%s failed during the fault: %s", s.cluster, s.r.Raw)
		}
	}
	p50, p99 := percentile(healthy, 50), percentile(healthy, 99)
	t.Logf("sent H1 %d H2 %d SICK %d; failed H1 %d H2 %d SICK %d; healthy p50 %v p99 %v max %v; sick p50 %v p99 %v",
		sent["H1"], sent["H2"], sent["SICK"], failed["H1"], failed["H2"], failed["SICK"],
		p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), percentile(healthy, 100).Round(10*time.Microsecond),
		percentile(sickLat, 50).Round(10*time.Microsecond), percentile(sickLat, 99).Round(10*time.Microsecond))
	if (sent["H1"] < 50 || sent["H2"] < 50 || sent["SICK"] < 5) && !raceDetector() {
		t.Errorf("too little load to prove anything: %v", sent)
	}
	if p99 > healthyP99 {
		missed = fmt.Sprintf("healthy clusters' p99 %v, want < %v", p99, healthyP99)
	}

	states := breakerStates(t, e)
	if states["H1"] != "closed" || states["H2"] != "closed" {
		t.Errorf("healthy breakers: %v", states)
	}
	if tc.sickOK {
		if states["SICK"] != "closed" || breakerMetric(t, e, "SICK") == 2 {
			t.Errorf("a slow but working SSO opened its breaker: %v", states)
		}
		return missed
	}
	if states["SICK"] != "open" {
		t.Errorf("GET /admin/clusters: SICK breaker %q, want open", states["SICK"])
		return missed
	}
	if v := breakerMetric(t, e, "SICK"); v != 2 {
		t.Errorf("ssogate_sso_breaker_state{cluster=\"SICK\"} = %v, want 2 (open)", v)
	}
	// Open: answered at once, and the sick SSO is not even contacted.
	before := accepted()
	var worst time.Duration
	for range 10 {
		t0 := time.Now()
		r := e.post(true, login("sick-user", "pw")...)
		worst = max(worst, time.Since(t0))
		if r.code() != 1002 || r.str("error") != "temporarily_unavailable" || r.str("cluster_code") != "SICK" {
			t.Errorf("with the breaker open: %s", r.Raw)
		}
	}
	t.Logf("breaker open: slowest of 10 answers %v", worst.Round(10*time.Microsecond))
	if after := accepted(); after != before {
		t.Errorf("the sick SSO got %d connections while its breaker was open", after-before)
	}
	if worst >= openAnswer && missed == "" {
		missed = fmt.Sprintf("with the breaker open an answer took %v, want < %v", worst, openAnswer)
	}
	return missed
}

// raceDetector reports a test binary built with -race: the detector slows everything several
// times over, so the latency bounds are not checked then (every other assertion is).
func raceDetector() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func sick(behave func(net.Conn)) func(t *testing.T) (string, func() int32) {
	return func(t *testing.T) (string, func() int32) {
		s := startSick(t, behave)
		return s.URL, s.accepted.Load
	}
}

// slowSSO is a working reference SSO that answers after d.
func slowSSO(d time.Duration) func(t *testing.T) (string, func() int32) {
	return func(t *testing.T) (string, func() int32) {
		var n atomic.Int32
		s := startRefSSO(t, "SICK", map[string]string{"sick-user": "pw"}, -1, func(h http.Handler) http.Handler {
			return delayed(d)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				h.ServeHTTP(w, r)
			}))
		})
		return s.URL, n.Load
	}
}

func TestInFlightBoundAnswersAtOnce(t *testing.T) {
	hung := startSick(t, hang)
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("HUNG", hung.URL)}, func(c *config.Config) {
		c.SSO.MaxInFlight = 4
		c.SSO.Timeout = 3 * time.Second
		c.SSO.BreakerFailures = 100 // this test is about the bound, not the breaker
	})
	e.bind(directory.NamespaceUser, "alice", "HUNG")
	var wg sync.WaitGroup
	stuck := make([]reply, 4)
	for i := range stuck {
		wg.Add(1)
		go func() { defer wg.Done(); stuck[i] = postAsync(e, login("alice", "pw")...) }()
	}
	for deadline := time.Now().Add(5 * time.Second); hung.accepted.Load() < 4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the hanging SSO took %d connections, want 4", hung.accepted.Load())
		}
	}
	t0 := time.Now()
	r := e.post(true, login("alice", "pw")...)
	elapsed := time.Since(t0)
	if r.code() != 1002 || r.str("error") != "temporarily_unavailable" || r.str("cluster_code") != "HUNG" {
		t.Fatalf("the fifth request: %s", r.Raw)
	}
	t.Logf("the fifth request answered in %v while four hung (sso.timeout 3 s)", elapsed.Round(10*time.Microsecond))
	if elapsed > time.Second {
		t.Errorf("the fifth request waited %v; it must not wait for a slot", elapsed)
	}
	if n := hung.accepted.Load(); n != 4 {
		t.Errorf("the hanging SSO got %d connections, want 4", n)
	}
	wg.Wait()
	for i, r := range stuck {
		if r.str("error") != "temporarily_unavailable" {
			t.Errorf("hung request %d: %s", i, r.Raw)
		}
	}
}

func TestPasswordSprayingNeverOpensTheBreaker(t *testing.T) {
	users := map[string]string{"alice": "alice-pass"}
	for i := range 50 {
		users[fmt.Sprintf("staff%02d", i)] = fmt.Sprintf("own-password-%d", i)
	}
	sso := startRefSSO(t, "SPRAY", users, -1, nil)
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("SPRAY", sso.URL)}, func(c *config.Config) {
		c.SSO.BreakerFailures = 5 // 50 wrong passwords are ten times that
	})
	for u := range users {
		e.bind(directory.NamespaceUser, u, "SPRAY")
	}
	for i := range 50 {
		wantWrongPassword(t, e.post(true, login(fmt.Sprintf("staff%02d", i), "Winter2026!")...))
	}
	// Wrong client credentials are 401s from the SSO: healthy answers too.
	for i := range 10 {
		r := e.post(false, login(fmt.Sprintf("staff%02d", i), fmt.Sprintf("own-password-%d", i), "client_id", clientID, "client_secret", "not-it")...)
		if r.code() != 1002 || r.str("error") != "invalid_client" {
			t.Fatalf("wrong client secret: %s", r.Raw)
		}
	}
	if r := e.post(true, login("alice", "alice-pass")...); r.code() != 200 {
		t.Fatalf("after 60 refused logins the right password: %s", r.Raw)
	}
	if s := breakerStates(t, e)["SPRAY"]; s != "closed" {
		t.Errorf("breaker %q after refused logins, want closed", s)
	}
	if v := breakerMetric(t, e, "SPRAY"); v == 2 {
		t.Error("the breaker metric says open")
	}
	if n := sso.count(); n != 61 {
		t.Errorf("the SSO received %d requests, want all 61", n)
	}
}
