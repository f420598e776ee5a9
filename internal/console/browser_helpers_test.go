package console_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/gateway"
	"github.com/ssogate/ssogate/internal/refsso"
)

const (
	gwAdminToken = "browser-test-admin-token"
	appClient    = "app"
	appSecret    = "app-secret"
)

// sso is a reference SSO on its own loopback listener that a test can take down.
type sso struct {
	URL string
	srv *http.Server
}

func startRefSSO(t *testing.T, name string, users map[string]string) *sso {
	t.Helper()
	rs, err := refsso.New(refsso.Config{Name: name, Prefix: "/sso", Users: users,
		Clients: map[string]string{appClient: appSecret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sso{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: rs.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// stop takes the SSO down: new connections are refused.
func (s *sso) stop() { s.srv.Close() }

// gw is a real gateway (both listeners, embedded store) on loopback.
type gw struct {
	g     *gateway.Gateway
	token string
	admin string
}

func startGateway(t *testing.T, clusters []directory.Cluster) *gw {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.AdminToken = gwAdminToken
	cfg.Store.Path = filepath.Join(t.TempDir(), "ssogate.db")
	cfg.SSO.Timeout = 2 * time.Second
	cfg.SSO.ConnectTimeout = time.Second
	cfg.SSO.BreakerFailures = 3
	cfg.SSO.BreakerOpenFor = time.Minute
	cfg.Clusters = clusters
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("gateway did not stop")
		}
		g.Close()
	})
	return &gw{g: g, token: "http://" + g.PublicAddr() + "/oauth/token", admin: "http://" + g.AdminAddr()}
}

// login posts a password login to the token endpoint and returns the raw answer.
func (g *gw) login(t *testing.T, user, pass string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	req, _ := http.NewRequest(http.MethodPost, g.token, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appClient, appSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// browser runs headless Chromium for one test, collects every console message and accepts
// every dialog (the delete confirmation), noting its text.
type chrome struct {
	ctx     context.Context
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	dialogs []string
	shots   string
}

func startChrome(t *testing.T) *chrome {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		// A missing browser fails the test: scripts/test.sh installs Debian's chromium.
		t.Fatalf("chromium is not installed (scripts/test.sh installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	c := &chrome{ctx: ctx, shots: filepath.Join(t.TempDir(), "screenshots")}
	if err := os.MkdirAll(c.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.console = append(c.console, m)
			c.mu.Unlock()
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.dialogs = append(c.dialogs, ev.Message)
			c.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return c
}

// do runs steps with a generous bound (a hang detector, not a timing target).
func (c *chrome) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.shot(t, "failed-"+strings.ReplaceAll(what, " ", "-"))
		hctx, hcancel := context.WithTimeout(c.ctx, 5*time.Second)
		defer hcancel()
		html, _ := chromedp.Run(hctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\npage:\n%s\nconsole: %v", what, err, html, c.errors())
	}
}

func run[T any](t *testing.T, c *chrome, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (c *chrome) text(t *testing.T, sel string) string {
	t.Helper()
	return run(t, c, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (c *chrome) attr(t *testing.T, sel, name string) string {
	t.Helper()
	return run(t, c, "attribute "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

// shot saves a screenshot of the viewport under the test's temp dir and returns its path.
func (c *chrome) shot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(c.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
	return path
}

func (c *chrome) errors() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var bad []chromedp.ConsoleMessage
	for _, m := range c.console {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			bad = append(bad, m)
		}
	}
	return bad
}

func (c *chrome) dialogTexts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.dialogs...)
}

// poll waits until a JavaScript expression is true in the page.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr)(ctx, t)
		return err
	})
}

// reloaded waits for the page a change reloads to: it shows the change's message, which
// only the new page does (app.js keeps it across the reload).
func reloaded() chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS("#flash.ok"))
}

// throttleUpload limits the page's upload rate (bytes/s; -1: no limit).
func (c *chrome) throttleUpload(t *testing.T, rate float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{DownloadThroughput: -1, UploadThroughput: rate}},
	})
	if err != nil {
		t.Fatalf("throttle upload: %v", err)
	}
}

// download clicks a download link and returns the downloaded file's content.
func (c *chrome) download(t *testing.T, sel, name string) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	c.do(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
	path := filepath.Join(dir, name)
	for ctx.Err() == nil {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s was not downloaded", name)
	return ""
}

// newLoopbackServer serves h on 127.0.0.1 for the life of the process (benchmarks share it).
func newLoopbackServer(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String()
}
