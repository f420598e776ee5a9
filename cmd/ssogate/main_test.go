package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/apidoc"
	"github.com/ssogate/ssogate/internal/refsso"
)

// These tests run the real binary, as an operator would: `ssogate serve --config FILE`, then
// signals (SPEC section 6: SIGTERM finishes in-flight requests and exits 0 within
// shutdown_timeout; SIGHUP re-reads the file without dropping a request).

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ssogate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ssogate")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	if out, err := exec.Command(goTool, "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminToken = "process-test-admin-token"

// refSSO is an in-process reference SSO whose answers can be delayed; it counts the token
// requests that arrived.
type refSSO struct {
	URL     string
	delay   atomic.Int64 // nanoseconds
	arrived atomic.Int32
}

func startRefSSO(t *testing.T, users map[string]string) *refSSO {
	t.Helper()
	rs, err := refsso.New(refsso.Config{Prefix: "/sso", Users: users, CaptchaAfter: -1, Clients: map[string]string{"app": "app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	s := &refSSO{}
	inner := rs.Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.arrived.Add(1)
		time.Sleep(time.Duration(s.delay.Load()))
		inner.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.URL = "http://" + ln.Addr().String()
	return s
}

type clusterEntry struct{ code, url string }

// writeConfig writes the file atomically (rename), as an operator's deployment tool would,
// so a SIGHUP never reads half a file.
func writeConfig(t *testing.T, path string, clusters []clusterEntry, extra string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nadmin_token: %s\nshutdown_timeout: 10s\nlog_level: info\n", adminToken)
	fmt.Fprintf(&b, "store:\n  path: %s\n", filepath.Join(filepath.Dir(path), "ssogate.db"))
	b.WriteString("sso:\n  timeout: 5s\nhttp:\n  write_timeout: 10s\n")
	b.WriteString(extra)
	b.WriteString("clusters:\n")
	for _, c := range clusters {
		fmt.Fprintf(&b, "  - code: %s\n    name: %s\n    sso_url: %s/sso\n    server_url: %s/server\n", c.code, strings.ToLower(c.code), c.url, c.url)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// proc is a running `ssogate serve`.
type proc struct {
	t             *testing.T
	cmd           *exec.Cmd
	public, admin string // base URLs
	mu            sync.Mutex
	logs          strings.Builder
	exited        chan struct{}
	exitErr       error
}

// cleanEnv is the test's environment without SSOGATE_* variables, which would override the file.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSOGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

func startServe(t *testing.T, configPath string) *proc {
	t.Helper()
	return startServeEnv(t, configPath)
}

// startServeEnv is startServe with variables added to the clean environment.
func startServeEnv(t *testing.T, configPath string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary, "serve", "--config", configPath), exited: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "ssogate serving" {
				serving <- m
			}
		}
		io.Copy(io.Discard, stderr)
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("ssogate's log:\n%s", p.log())
		}
	})
	select {
	case m := <-serving:
		p.public = "http://" + m["listen"].(string)
		p.admin = "http://" + m["admin_listen"].(string)
	case <-p.exited:
		t.Fatalf("ssogate exited at start: %v\n%s", p.exitErr, p.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("ssogate did not start within 20 s:\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait returns the exit code, failing the test if the process is still running after limit.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit):
		p.t.Fatalf("ssogate still running %v after the signal", limit)
	}
	if p.exitErr == nil {
		return 0
	}
	if ee, ok := p.exitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.exitErr)
	return -1
}

// adminDo sends an authorised admin request and returns its status.
func (p *proc) adminDo(method, path string) int {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := apidoc.Client(p.t, http.DefaultClient).Do(req) // checked against docs/openapi.yaml
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// answer is a token answer, or the transport error that replaced it.
type answer struct {
	err    error
	status int
	body   map[string]any
	raw    string
}

func (a answer) ok(cluster string) bool {
	return a.err == nil && a.status == 200 && a.body["code"] == float64(200) && a.body["cluster_code"] == cluster
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("HTTP %d %s", a.status, a.raw)
}

var client = &http.Client{Timeout: 20 * time.Second}

func (p *proc) login(user, pass string) answer {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	req, _ := http.NewRequest(http.MethodPost, p.public+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", "app-secret")
	resp, err := apidoc.Client(p.t, client).Do(req) // checked against docs/openapi.yaml
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	const (
		inFlight = 8
		ssoDelay = 1500 * time.Millisecond
		shutdown = 10 * time.Second // shutdown_timeout in writeConfig
	)
	sso := startRefSSO(t, map[string]string{"alice": "alice-pass"})
	cfg := filepath.Join(t.TempDir(), "ssogate.yaml")
	writeConfig(t, cfg, []clusterEntry{{"SLOW", sso.URL}}, "")
	p := startServe(t, cfg)
	if s := p.adminDo("PUT", "/admin/clusters/SLOW/users/alice"); s != 200 {
		t.Fatalf("bind: HTTP %d", s)
	}
	if a := p.login("alice", "alice-pass"); !a.ok("SLOW") {
		t.Fatalf("before the test: %v", a)
	}

	// Two connections that must not hold the shutdown up: one idle after a keep-alive
	// request, one that never sent a byte (a client that connected and stalled).
	publicAddr := strings.TrimPrefix(p.public, "http://")
	idle := dialKeepAlive(t, publicAddr)
	silent, err := net.Dial("tcp", publicAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	sso.delay.Store(int64(ssoDelay))
	before := sso.arrived.Load()
	answers := make([]answer, inFlight)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = p.login("alice", "alice-pass") }()
	}
	for deadline := time.Now().Add(5 * time.Second); sso.arrived.Load()-before < inFlight; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the SSO", sso.arrived.Load()-before)
		}
	}
	// Every request is now inside the gateway, waiting for the SSO.
	sigterm := time.Now()
	p.signal(syscall.SIGTERM)

	// The listener closes at once: new connections are refused while the others finish.
	for {
		c, err := net.DialTimeout("tcp", publicAddr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(sigterm) > time.Second {
			t.Fatal("the public listener still accepts connections 1 s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}

	wg.Wait()
	for i, a := range answers {
		if !a.ok("SLOW") {
			t.Errorf("in-flight request %d: %v", i, a)
		}
	}
	code := p.wait(shutdown + 5*time.Second)
	elapsed := time.Since(sigterm)
	for name, c := range map[string]net.Conn{"idle keep-alive": idle, "silent": silent} {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("the %s connection is still open after the exit (read %d, %v)", name, n, err)
		}
	}
	t.Logf("%d requests in flight at SIGTERM, all answered; exit %d after %v", inFlight, code, elapsed.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if elapsed > shutdown {
		t.Errorf("exit %v after SIGTERM, shutdown_timeout %v", elapsed, shutdown)
	}
}

// dialKeepAlive opens a connection, completes one keep-alive request on it and leaves it idle.
func dialKeepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the gateway closed a keep-alive connection after one request")
	}
	return c
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestSIGHUPAppliesClustersWithoutDroppingRequests(t *testing.T) {
	one := startRefSSO(t, map[string]string{"alice": "alice-pass"})
	two := startRefSSO(t, map[string]string{"bob": "bob-pass"})
	cfg := filepath.Join(t.TempDir(), "ssogate.yaml")
	writeConfig(t, cfg, []clusterEntry{{"ONE", one.URL}}, "")
	p := startServe(t, cfg)
	if s := p.adminDo("PUT", "/admin/clusters/ONE/users/alice"); s != 200 {
		t.Fatalf("bind: HTTP %d", s)
	}
	if s := p.adminDo("GET", "/admin/clusters/TWO"); s != 404 {
		t.Fatalf("TWO before the reload: HTTP %d", s)
	}

	// Logins to ONE run through the whole reload; none may fail.
	stop := make(chan struct{})
	var sent, failed atomic.Int32
	var firstFailure atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if a := p.login("alice", "alice-pass"); !a.ok("ONE") {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, a.String())
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)

	writeConfig(t, cfg, []clusterEntry{{"ONE", one.URL}, {"TWO", two.URL}}, "")
	p.signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); p.adminDo("GET", "/admin/clusters/TWO") != 200; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("cluster TWO not applied 5 s after SIGHUP:\n%s", p.log())
		}
	}
	for range 3 { // reloads of an unchanged file, under load
		p.signal(syscall.SIGHUP)
		time.Sleep(50 * time.Millisecond)
	}
	if s := p.adminDo("PUT", "/admin/clusters/TWO/users/bob"); s != 200 {
		t.Fatalf("bind to TWO: HTTP %d", s)
	}
	if a := p.login("bob", "bob-pass"); !a.ok("TWO") || a.body["sso_url"] != two.URL+"/sso" {
		t.Fatalf("a login to the reloaded cluster: %v", a)
	}

	// A broken file is refused whole, naming the key, and the running configuration stays.
	writeConfig(t, cfg, []clusterEntry{{"ONE", one.URL}, {"TWO", "not a url"}}, "")
	p.signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.log(), "reload failed"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload failure logged:\n%s", p.log())
		}
	}
	if !strings.Contains(p.log(), "clusters[1].sso_url") {
		t.Errorf("the reload failure does not name the key:\n%s", p.log())
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if a := p.login("bob", "bob-pass"); !a.ok("TWO") {
		t.Errorf("after a failed reload: %v", a)
	}
	t.Logf("%d logins during 5 reloads (one refused), %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 || sent.Load() < 10 {
		t.Fatalf("%d of %d logins failed during the reloads; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		wantCode   int
		wantKeys   []string // in the output
		never      string   // never in the output
		env        []string
	}{
		// Issue 8 item 9: a value from the environment that fails validation names the
		// variable as well as the key.
		{name: "a bad value from the environment names its variable", yaml: "listen: \":9000\"\n",
			env: []string{"SSOGATE_SSO_TIMEOUT=0s"}, wantCode: 1, wantKeys: []string{"SSOGATE_SSO_TIMEOUT: sso.timeout"}},
		{name: "bad values name their keys", yaml: "store:\n  driver: mongo\nsso:\n  timeout: -1s\n",
			wantCode: 1, wantKeys: []string{"store.driver", "sso.timeout"}},
		{name: "an unknown key is named", yaml: "listn: \":9000\"\n", wantCode: 1, wantKeys: []string{"listn"}},
		{name: "a bad cluster entry is named", yaml: "clusters:\n  - code: \"bad code!\"\n    name: x\n    sso_url: http://127.0.0.1:1/sso\n    server_url: http://127.0.0.1:1\n",
			wantCode: 1, wantKeys: []string{"clusters[0].code"}},
		{name: "a valid file is printed without its secrets", yaml: "admin_token: very-secret-token\nstore:\n  redis_password: also-secret\n",
			wantCode: 0, wantKeys: []string{"admin_token", "listen"}, never: "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "serve", "--check-config", "--config", path)
			cmd.Env = append(cleanEnv(), tc.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.wantCode, out)
			}
			for _, k := range tc.wantKeys {
				if !strings.Contains(string(out), k) {
					t.Errorf("output does not name %q:\n%s", k, out)
				}
			}
			if tc.never != "" && strings.Contains(string(out), tc.never) {
				t.Errorf("output shows %q:\n%s", tc.never, out)
			}
		})
	}
}
