package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refsso"
)

// The security suite of issue 4: brute force (one instance and two sharing Redis) and secrets
// in logs and answers here; the admin API, SSRF and the public listener's limits in
// security_surface_test.go. docs/security.md maps each threat to the test that covers it.

// startRefSSO is startSSO with the reference SSO's captcha threshold chosen (negative: never,
// so that a run of wrong passwords stays a run of "password not match!") and an optional
// wrapper around the recording handler (delays, path recording).
func startRefSSO(t *testing.T, name string, users map[string]string, captchaAfter int, wrap func(http.Handler) http.Handler) *ssoServer {
	t.Helper()
	rs, err := refsso.New(refsso.Config{
		Name: name, Prefix: "/sso", Users: users, CaptchaAfter: captchaAfter,
		Clients: map[string]string{clientID: clientSecret, "public": ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &ssoServer{}
	inner := rs.Handler()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.got = append(s.got, received{Form: form, Authorization: r.Header.Get("Authorization"),
			XFF: r.Header.Get("X-Forwarded-For"), Proto: r.Header.Get("X-Forwarded-Proto"), RequestID: r.Header.Get("X-Request-Id")})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		inner.ServeHTTP(w, r)
	})
	if wrap != nil {
		h = wrap(h)
	}
	s.URL, s.srv = serveHTTP(t, h)
	return s
}

// countUser is how many token requests for username the SSO received.
func (s *ssoServer) countUser(username string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.got {
		if r.Form.Get("username") == username {
			n++
		}
	}
	return n
}

func clusterAt(code, base string) directory.Cluster {
	return directory.Cluster{Code: code, Name: strings.ToLower(code), SSOURL: base + "/sso", ServerURL: base + "/server", Enabled: true}
}

// deadURL is an http URL where nothing listens: connections are refused.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// wantLimited checks the answer of SPEC section 2 step 4: 1002 too_many_requests, a
// Retry-After of at least one second, and a Chinese description the app can show.
func wantLimited(t *testing.T, r reply) {
	t.Helper()
	if r.Status != 200 || r.code() != 1002 || r.Body["success"] != false || r.str("error") != "too_many_requests" {
		t.Fatalf("want 1002 too_many_requests, got %d %s", r.Status, r.Raw)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", r.Header.Get("Retry-After"))
	}
	if !hasHan(r.str("error_description")) || !hasHan(r.str("message")) {
		t.Fatalf("description and message must be Chinese: %s", r.Raw)
	}
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// wantWrongPassword checks that an attempt reached the SSO and was refused there.
func wantWrongPassword(t *testing.T, r reply) {
	t.Helper()
	if r.code() != 1002 || r.str("error") != "access_denied" || r.str("error_description") != "password not match!" {
		t.Fatalf("want the SSO's wrong-password answer, got %s", r.Raw)
	}
}

func directoryCalls(e *env) uint64 {
	s := e.g.Directory().Stats()
	return s.CacheHits + s.CacheMisses
}

// burst sends n requests at once (released together) and returns the answers.
func burst(e *env, n int, params func(i int) []string) []reply {
	var wg sync.WaitGroup
	start := make(chan struct{})
	out := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = postAsync(e, params(i)...)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// postAsync is post with Basic client credentials for goroutines other than the test's: it
// never stops the test, a transport failure comes back as a reply with Status 0.
func postAsync(e *env, params ...string) reply {
	return postWith(e.client(), e, params...)
}

func TestBruteForceIsStoppedAtTheLimit(t *testing.T) {
	users := map[string]string{"alice": "alice-pass", "bob": "bob-pass", "burst": "burst-pass", "dana": "dana-pass"}
	sso := startRefSSO(t, "BF", users, -1, nil)
	logs := &syncBuffer{}
	e := startGateway(t, logs, []directory.Cluster{clusterAt("BF", sso.URL), clusterAt("DOWN", deadURL(t))},
		func(c *config.Config) {
			c.RateLimit.UserFailures = 5
			c.RateLimit.IPFailures = 100_000 // this test is about the username budget
		})
	for u := range users {
		e.bind(directory.NamespaceUser, u, "BF")
	}
	e.bind(directory.NamespaceUser, "down-user", "DOWN")

	t.Run("sequential wrong passwords reach the SSO five times", func(t *testing.T) {
		for i := range 5 {
			wantWrongPassword(t, e.post(true, login("alice", fmt.Sprintf("guess-%d", i))...))
		}
		calls := directoryCalls(e)
		for i := 5; i < 30; i++ {
			wantLimited(t, e.post(true, login("alice", fmt.Sprintf("guess-%d", i))...))
		}
		// Locked means the right password is refused too, without asking anyone.
		wantLimited(t, e.post(true, login("alice", "alice-pass")...))
		if n := sso.countUser("alice"); n != 5 {
			t.Errorf("the SSO received %d attempts for alice, want 5", n)
		}
		if got := directoryCalls(e); got != calls {
			t.Errorf("the directory was consulted %d times while the username was locked", got-calls)
		}
	})

	t.Run("a parallel burst of 50 gets no more than five through", func(t *testing.T) {
		limited, refused := 0, 0
		for _, r := range burst(e, 50, func(i int) []string { return login("burst", fmt.Sprintf("guess-%d", i)) }) {
			switch r.str("error") {
			case "too_many_requests":
				wantLimited(t, r)
				limited++
			case "access_denied":
				refused++
			default:
				t.Errorf("unexpected answer %s", r.Raw)
			}
		}
		n := sso.countUser("burst")
		if n > 5 || n != refused || limited != 50-refused {
			t.Errorf("SSO received %d, answers: %d refused by the SSO, %d limited; want at most 5 through", n, refused, limited)
		}
		t.Logf("burst of 50: %d reached the SSO, %d limited", n, limited)
		// Every request of this test is a password login, and the access log must say so even
		// when requests overlap (a pooled request struct was once read after its reuse).
		lines := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "access" {
				continue
			}
			lines++
			if m["grant"] != "password" {
				t.Errorf("access line with grant %v: %s", m["grant"], line)
			}
		}
		if lines < 50 {
			t.Errorf("%d access lines, want at least the burst's 50", lines)
		}
	})

	t.Run("unknown users count", func(t *testing.T) {
		for range 5 {
			if r := e.post(true, login("ghost", "x")...); r.code() != 1004 {
				t.Fatalf("want 1004, got %s", r.Raw)
			}
		}
		calls := directoryCalls(e)
		for range 5 {
			wantLimited(t, e.post(true, login("ghost", "x")...))
		}
		if got := directoryCalls(e); got != calls {
			t.Errorf("the directory was consulted %d times while the username was locked", got-calls)
		}
	})

	t.Run("wrong invite codes count", func(t *testing.T) {
		for range 5 {
			if r := e.post(true, login("bob", "bob-pass", "clusterCode", "NOPE")...); r.code() != 1001 {
				t.Fatalf("want 1001, got %s", r.Raw)
			}
		}
		wantLimited(t, e.post(true, login("bob", "bob-pass")...))
		wantLimited(t, e.post(true, login("bob", "bob-pass", "clusterCode", "BF")...))
		if n := sso.countUser("bob"); n != 0 {
			t.Errorf("the SSO received %d attempts for a locked user", n)
		}
	})

	t.Run("a success resets the username's counter", func(t *testing.T) {
		for round := range 3 {
			for i := range 4 {
				wantWrongPassword(t, e.post(true, login("dana", fmt.Sprintf("r%d-%d", round, i))...))
			}
			if r := e.post(true, login("dana", "dana-pass")...); r.code() != 200 {
				t.Fatalf("round %d: the right password after 4 failures: %s", round, r.Raw)
			}
		}
		// 12 failures in all, more than the limit of 5: only the resets let them through.
		if n := sso.countUser("dana"); n != 15 {
			t.Errorf("the SSO received %d attempts for dana, want 15", n)
		}
	})

	t.Run("temporarily_unavailable does not count", func(t *testing.T) {
		for i := range 12 {
			r := e.post(true, login("down-user", "x")...)
			if r.code() != 1002 || r.str("error") != "temporarily_unavailable" {
				t.Fatalf("attempt %d: want temporarily_unavailable, got %s", i+1, r.Raw)
			}
		}
	})
}

func TestPasswordSprayFromOneAddressIsStoppedByTheIPBudget(t *testing.T) {
	users := map[string]string{}
	for i := range 30 {
		users[fmt.Sprintf("user%02d", i)] = "right"
	}
	sso := startRefSSO(t, "IP", users, -1, nil)
	e := startGateway(t, &syncBuffer{}, []directory.Cluster{clusterAt("IP", sso.URL)}, func(c *config.Config) {
		c.RateLimit.IPFailures = 20
	})
	for u := range users {
		e.bind(directory.NamespaceUser, u, "IP")
	}
	limited := 0
	for i := range 30 {
		form := url.Values{}
		for k, v := range map[string]string{"grant_type": "password", "username": fmt.Sprintf("user%02d", i), "password": "Spring2026!"} {
			form.Set(k, v)
		}
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, clientSecret)
		// No trusted proxies are configured: a forged X-Forwarded-For must not buy a fresh budget.
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		r := e.do(req)
		if r.str("error") == "too_many_requests" {
			wantLimited(t, r)
			limited++
		}
	}
	if n := sso.count(); n != 20 || limited != 10 {
		t.Fatalf("one address spraying 30 usernames: %d reached the SSO, %d limited; want 20 and 10", n, limited)
	}
}

func TestBruteForceAcrossTwoInstancesSharingRedis(t *testing.T) {
	prefix := uniqueRedisPrefix(t)
	t.Cleanup(func() { cleanRedisPrefix(t, prefix) })
	sso := startRefSSO(t, "SHARED", map[string]string{"alice": "alice-pass", "burst": "burst-pass"}, -1, nil)
	clusters := []directory.Cluster{clusterAt("SHARED", sso.URL)}
	// store.driver redis puts the counters in the shared store (gateway.counters).
	tweak := onRedis(testRedisAddr(), prefix, func(c *config.Config) {
		c.RateLimit.UserFailures = 5
		c.RateLimit.IPFailures = 100_000
	})
	one := startGateway(t, &syncBuffer{}, clusters, tweak)
	two := startGateway(t, &syncBuffer{}, clusters, tweak)
	one.bind(directory.NamespaceUser, "alice", "SHARED")
	one.bind(directory.NamespaceUser, "burst", "SHARED")
	instances := []*env{one, two}

	t.Run("alternating between the instances", func(t *testing.T) {
		through := 0
		for i := range 30 {
			r := instances[i%2].post(true, login("alice", fmt.Sprintf("guess-%d", i))...)
			if r.str("error") == "too_many_requests" {
				wantLimited(t, r)
				continue
			}
			wantWrongPassword(t, r)
			through++
		}
		if n := sso.countUser("alice"); n != 5 || through != 5 {
			t.Errorf("the SSO received %d attempts (%d answered by it) through two instances, want 5", n, through)
		}
	})

	t.Run("a parallel burst of 50 split over both", func(t *testing.T) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		var limited atomic.Int32
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := postAsync(instances[i%2], login("burst", fmt.Sprintf("guess-%d", i))...)
				if r.str("error") == "too_many_requests" {
					limited.Add(1)
				} else if r.str("error") != "access_denied" {
					t.Errorf("unexpected answer %s", r.Raw)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := sso.countUser("burst"); n > 5 || int(limited.Load()) != 50-n {
			t.Errorf("the SSO received %d attempts, %d were limited; want at most 5 through", n, limited.Load())
		}
	})

	// Counted in Redis, not per instance: neither limiter fell back to local counters.
	for i, e := range instances {
		if v := metricValue(t, e, "ssogate_ratelimit_fallbacks_total"); v != 0 {
			t.Errorf("instance %d counted %v operations locally", i+1, v)
		}
		if v := metricValue(t, e, "ssogate_ratelimit_rejected_total"); v == 0 {
			t.Errorf("instance %d rejected nothing", i+1)
		}
	}
}

// metricValue reads one unlabelled sample from the admin listener's /metrics.
func metricValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape(t, e), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

func scrape(t *testing.T, e *env) string {
	t.Helper()
	resp, err := e.as(t).client().Get(e.adminBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// rawExchange writes raw bytes to addr and returns everything the server sends back until
// it closes the connection (the requests ask for Connection: close) or 5 s pass.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestSecretsAreNeverEchoedOrLogged(t *testing.T) {
	const (
		password = "Pa55-Never-Show-Me"
		secret   = "Client-Secret-Never-Show-Me"
	)
	logs := &syncBuffer{}
	sso := startRefSSO(t, "SEC", map[string]string{"alice": password}, -1, nil)
	rs, err := refsso.New(refsso.Config{Prefix: "/sso", Users: map[string]string{"alice": password}, Clients: map[string]string{"app2": secret}})
	if err != nil {
		t.Fatal(err)
	}
	sso2URL, _ := serveHTTP(t, rs.Handler())
	// An SSO that answers a broken HTTP response with a token in it: fasthttp's client quotes
	// what it read in its errors, and the gateway logs why an SSO was unavailable.
	const leakedToken = "tok-from-a-broken-sso-answer"
	broken := startSick(t, func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nBroken header "+leakedToken+"\r\n\r\n{\"access_token\":\""+leakedToken+"\"}")
		c.Close()
	})
	e := startGateway(t, logs, []directory.Cluster{clusterAt("SEC", sso.URL), clusterAt("SEC2", sso2URL), clusterAt("BROKEN", broken.URL)}, func(c *config.Config) {
		c.MaxBodyBytes = 2048
		c.HTTP.MaxHeaderBytes = 4096
	})
	e.bind(directory.NamespaceUser, "alice", "SEC")
	e.bind(directory.NamespaceUser, "alice", "SEC2")
	e.bind(directory.NamespaceUser, "bob", "SEC2")
	e.bind(directory.NamespaceUser, "bob", "SEC")
	basicCreds := base64.StdEncoding.EncodeToString([]byte("app2:" + secret))
	e.bind(directory.NamespaceUser, "carl", "BROKEN")
	secrets := []string{password, secret, basicCreds, url.QueryEscape(password), url.QueryEscape(secret), leakedToken}
	var answers []string

	send := func(method, target, contentType, body string, header map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.base+target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := e.as(t).client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var hdr bytes.Buffer
		resp.Header.Write(&hdr)
		answers = append(answers, hdr.String()+string(raw))
	}
	form := "application/x-www-form-urlencoded"
	basicHdr := map[string]string{"Authorization": "Basic " + basicCreds}
	ok := "grant_type=password&username=alice&password=" + url.QueryEscape(password)

	// Successful logins through both ways of sending client credentials: the tokens they
	// return must stay out of the logs.
	for _, p := range [][]string{
		{ok + "&clusterCode=SEC2", ""},
		{ok + "&clusterCode=SEC2&client_id=app2&client_secret=" + url.QueryEscape(secret), "params"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token", strings.NewReader(p[0]))
		req.Header.Set("Content-Type", form)
		if p[1] == "" {
			req.Header.Set("Authorization", "Basic "+basicCreds)
		}
		r := e.do(req)
		if r.code() != 200 {
			t.Fatalf("login: %s", r.Raw)
		}
		secrets = append(secrets, r.str("access_token"), r.str("refresh_token"))
		for _, s := range []string{password, secret} {
			if strings.Contains(r.Raw, s) {
				t.Errorf("a successful answer contains %q", s)
			}
		}
		rr := e.post(false, "grant_type", "refresh_token", "refresh_token", r.str("refresh_token"), "clusterCode", "SEC2", "client_id", "app2", "client_secret", secret)
		if rr.code() != 200 {
			t.Fatalf("refresh: %s", rr.Raw)
		}
		secrets = append(secrets, rr.str("access_token"), rr.str("refresh_token"))
	}

	// Error answers, each with the secrets somewhere odd.
	send("POST", "/oauth/token", form, ok+"&clusterCode=SEC2", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+secret))}) // empty id
	send("POST", "/oauth/token", form, ok, map[string]string{"Authorization": "Basic !" + secret})                                                                   // not base64
	send("POST", "/oauth/token", form, ok, map[string]string{"Authorization": "Bearer " + secret})                                                                   // another scheme
	send("POST", "/oauth/token", form, ok+"&password="+url.QueryEscape(password), basicHdr)                                                                          // repeated
	send("POST", "/oauth/token", form, ok+"%FF", basicHdr)                                                                                                           // not UTF-8
	send("POST", "/oauth/token", form, "grant_type=password&username=&password="+url.QueryEscape(password), basicHdr)                                                // no username
	send("POST", "/oauth/token", form, "grant_type=password&password="+url.QueryEscape(password)+"&client_secret="+url.QueryEscape(secret), nil)                     // no client_id
	send("POST", "/oauth/token", "application/json", `{"password":"`+password+`","client_secret":"`+secret+`"}`, basicHdr)                                           // JSON
	send("GET", "/oauth/token?"+ok+"&client_secret="+url.QueryEscape(secret), "", "", basicHdr)                                                                      // 405
	send("POST", "/oauth/token/"+url.PathEscape(password), form, ok, basicHdr)                                                                                       // 404
	send("POST", "/oauth/token", form, ok+"&pad="+strings.Repeat(password, 200), basicHdr)                                                                           // 413
	send("POST", "/oauth/token", form, ok, map[string]string{"Authorization": "Basic " + basicCreds, "X-Pad": strings.Repeat(secret, 300)})                          // 431
	send("POST", "/oauth/token", form, ok+"&clusterCode=SEC2&client_id=app2&client_secret=wrong-"+secret, nil)                                                       // SSO's invalid_client
	send("POST", "/oauth/token", form, "grant_type=password&username=alice&password=wrong-"+url.QueryEscape(password)+"&clusterCode=SEC2", basicHdr)                 // SSO's wrong password
	send("POST", "/oauth/token", form, "grant_type=password&username="+url.QueryEscape(password)+"&password="+url.QueryEscape(password), basicHdr)                   // 1004
	send("POST", "/oauth/token", form, "grant_type=refresh_token&refresh_token="+url.QueryEscape(secret), basicHdr)                                                  // unknown refresh token
	send("POST", "/oauth/token", form, "grant_type=password&username=carl&password="+url.QueryEscape(password), basicHdr)                                            // broken SSO
	send("POST", "/oauth/token?password="+url.QueryEscape(password), form, "grant_type=password&username=bob", basicHdr)                                             // 1000, password in the query

	// Requests fasthttp itself cannot parse: its error messages quote the bytes it read.
	addr := strings.TrimPrefix(e.base, "http://")
	for _, raw := range []string{
		"POST /oauth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basicCreds + "\r\nX-" + secret + "\r\nConnection: close\r\n\r\n",
		"POST /oauth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basicCreds + "\r\nContent-Length: zz" + password + "\r\nConnection: close\r\n\r\n",
		"POST /oauth/token?password=" + password + " HTTP/9.9\r\nAuthorization: Basic " + basicCreds + "\r\n\r\n",
		"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Basic " + basicCreds + "\r\nConnection: close\r\n\r\nzz" + password + "\r\n\r\n",
		"\x16\x03\x01" + secret + "\r\n\r\n",
	} {
		answers = append(answers, rawExchange(t, addr, raw))
	}

	e.stop() // flush every log line
	logText := logs.String()
	if !strings.Contains(logText, `"msg":"access"`) {
		t.Fatal("no access log captured: the check below would prove nothing")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logText, s) {
			i := strings.Index(logText, s)
			t.Errorf("the logs contain the secret %q: …%s…", s, logText[max(0, i-200):min(len(logText), i+len(s)+50)])
		}
		for _, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("an answer contains the secret %q: %s", s, a)
			}
		}
	}
}
