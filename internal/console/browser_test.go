package console_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
)

// TestConsoleInBrowser drives the console in a real Chromium against a real gateway and real
// reference SSOs (SPEC section 9, issue 11 item 4). The steps share one browser and one
// gateway and run in order; each page's screenshot lands in the test's temp dir
// (SSOGATE_SCREENSHOTS=DIR copies them there; docs/console-overview.png is made that way).
func TestConsoleInBrowser(t *testing.T) {
	bj := startRefSSO(t, "BJ", map[string]string{"alice": "alice-pass"})
	sh := startRefSSO(t, "SH", map[string]string{"bob": "bob-pass"})
	g := startGateway(t, []directory.Cluster{{Code: "BJ", Name: "北京市教委", SSOURL: bj.URL + "/sso", ServerURL: bj.URL, Enabled: true}})
	ctx := context.Background()
	dir := g.g.Directory()
	if err := dir.Bind(ctx, directory.NamespaceUser, "alice", "BJ"); err != nil {
		t.Fatal(err)
	}
	c := startChrome(t)
	ui := g.admin + "/ui/"
	shots := map[string]string{}
	shot := func(name string) { shots[name] = c.shot(t, name) }

	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}

	step("log in", func(t *testing.T) {
		c.do(t, "open the console", chromedp.Navigate(ui), chromedp.WaitVisible(chromedp.ID("token")))
		shot("login")
		if got := c.text(t, "#login-submit"); got != "登录" {
			t.Fatalf("login button %q: the console is not in Chinese by default", got)
		}
		c.do(t, "log in", chromedp.SendKeys(chromedp.ID("token"), gwAdminToken), chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.ID("row-BJ")))
	})

	step("breaker state changes live", func(t *testing.T) {
		// One good login: the breaker exists and is closed, and the figures move.
		if got := g.login(t, "alice", "alice-pass"); !strings.Contains(got, "access_token") {
			t.Fatalf("login through the gateway: %s", got)
		}
		c.do(t, "see closed", chromedp.WaitVisible(chromedp.CSS(`#row-BJ [data-breaker="closed"]`)))
		bj.stop()
		for range 3 { // cfg.SSO.BreakerFailures
			g.login(t, "alice", "alice-pass")
		}
		// No reload: the overview polls its live fragment (every 2 s, SPEC: ≤ 5 s old).
		start := time.Now()
		c.do(t, "see open without reloading", chromedp.WaitVisible(chromedp.CSS(`#row-BJ [data-breaker="open"]`)))
		if waited := time.Since(start); waited > 10*time.Second {
			t.Fatalf("the open breaker showed after %s", waited)
		}
		if got := c.text(t, "#row-BJ .last-error"); !strings.Contains(got, "no answer") {
			t.Fatalf("last error %q, want the failed exchange", got)
		}
		shot("overview")
	})

	step("create and edit a cluster", func(t *testing.T) {
		c.do(t, "open clusters", chromedp.Click(chromedp.ID("nav-clusters")), chromedp.WaitVisible(chromedp.ID("cluster-form")))
		c.do(t, "fill the form",
			chromedp.SendKeys(chromedp.CSS(`#cluster-form [name=code]`), "SH"),
			chromedp.SendKeys(chromedp.CSS(`#cluster-form [name=name]`), "上海"),
			chromedp.SendKeys(chromedp.CSS(`#cluster-form [name=sso_url]`), sh.URL+"/sso"),
			chromedp.SendKeys(chromedp.CSS(`#cluster-form [name=server_url]`), sh.URL),
			chromedp.Click(chromedp.ID("cluster-save")), reloaded(),
			chromedp.WaitVisible(chromedp.ID("cluster-SH")))
		c.do(t, "edit", chromedp.Click(chromedp.CSS(`#cluster-SH button.edit`)),
			chromedp.SetValue(chromedp.CSS(`#cluster-form [name=name]`), "上海市"),
			chromedp.Click(chromedp.ID("cluster-save")), reloaded())
		c.do(t, "see the new name", poll(`document.querySelector('#cluster-SH .c-name')?.textContent === '上海市'`))
		// Disable and enable again with the row's button.
		c.do(t, "disable", chromedp.Click(chromedp.CSS(`#cluster-SH button.toggle`)), reloaded(),
			poll(`document.querySelector('#cluster-SH .c-enabled')?.textContent === '否'`))
		c.do(t, "enable", chromedp.Click(chromedp.CSS(`#cluster-SH button.toggle`)), reloaded(),
			poll(`document.querySelector('#cluster-SH .c-enabled')?.textContent === '是'`))
		// Probe: SH answers, BJ is down.
		c.do(t, "probe", chromedp.Click(chromedp.CSS(`#cluster-SH button.probe`)), chromedp.WaitVisible(chromedp.CSS(`#probe-SH [data-probe="ok"]`)),
			chromedp.Click(chromedp.CSS(`#cluster-BJ button.probe`)), chromedp.WaitVisible(chromedp.CSS(`#probe-BJ [data-probe="fail"]`)))
		if got := c.text(t, "#probe-SH"); !strings.Contains(got, "ms") {
			t.Fatalf("probe shows %q, want the latency", got)
		}
		// Delete, after the confirmation dialog.
		if _, err := dir.PutCluster(ctx, directory.Cluster{Code: "TMP", Name: "temp", SSOURL: sh.URL + "/sso", ServerURL: sh.URL, Enabled: true}); err != nil {
			t.Fatal(err)
		}
		c.do(t, "delete TMP", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("cluster-TMP")),
			chromedp.Click(chromedp.CSS(`#cluster-TMP button.delete`)), chromedp.WaitNotPresent(chromedp.ID("cluster-TMP")))
		if d := c.dialogTexts(); len(d) != 1 || !strings.Contains(d[0], "TMP") {
			t.Fatalf("confirmation dialogs %q, want one naming TMP", d)
		}
		shot("clusters")
		got, err := dir.GetCluster(ctx, "SH")
		if err != nil || got.Name != "上海市" || !got.Enabled || got.SSOURL != sh.URL+"/sso" {
			t.Fatalf("SH in the store = %+v, %v", got, err)
		}
	})

	step("look up a user and read the explanation", func(t *testing.T) {
		c.do(t, "bind bob to SH", chromedp.Click(chromedp.ID("nav-users")), chromedp.WaitVisible(chromedp.ID("bind-form")),
			chromedp.SendKeys(chromedp.CSS(`#bind-form [name=username]`), "bob"),
			chromedp.SetValue(chromedp.CSS(`#bind-form [name=cluster]`), "SH"),
			chromedp.Click(chromedp.ID("bind-submit")), reloaded())
		c.do(t, "look up", chromedp.SendKeys(chromedp.ID("lookup-username"), "  bob "), chromedp.Click(chromedp.ID("lookup-submit")),
			chromedp.WaitVisible(chromedp.ID("explain")))
		if got := c.text(t, "#ex-normalized"); got != "bob" {
			t.Fatalf("normalised name %q", got)
		}
		if got := c.attr(t, "#ex-answer", "data-outcome"); got != directory.RouteForward {
			t.Fatalf("outcome %q, want route", got)
		}
		if got := c.text(t, "#ex-answer"); !strings.Contains(got, "SH") {
			t.Fatalf("explanation %q, want the route to SH", got)
		}
		shot("users")
		// An unknown user is 1004.
		c.do(t, "look up nobody", chromedp.Navigate(ui+"users?username=nobody"), chromedp.WaitVisible(chromedp.ID("explain")))
		if got := c.attr(t, "#ex-answer", "data-outcome"); got != directory.RouteUnknown {
			t.Fatalf("outcome for nobody %q, want 1004", got)
		}
	})

	step("upload a file and watch the progress bar", func(t *testing.T) {
		// Big enough that the upload takes many progress events: the server writes as it reads.
		var buf bytes.Buffer
		const lines = 200_000
		for i := range lines {
			fmt.Fprintf(&buf, "imported-user-%07d\n", i)
		}
		buf.WriteString("bad\x01name\n")
		file := filepath.Join(t.TempDir(), "users.txt")
		if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// An admin network is slower than loopback, where the whole file would fit in the socket
		// buffers at once: upload at 8 MB/s, so the ~4 MB take about half a second.
		c.throttleUpload(t, 8<<20)
		defer c.throttleUpload(t, -1)
		c.do(t, "upload", chromedp.Click(chromedp.ID("nav-import")), chromedp.WaitVisible(chromedp.ID("import-form")),
			chromedp.SetValue(chromedp.ID("import-cluster"), "SH"),
			chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{file}),
			chromedp.Click(chromedp.ID("import-submit")),
			chromedp.WaitVisible(chromedp.CSS(`#import-result[data-state="applied"]`)))
		seen := strings.Split(c.attr(t, "#import-progress", "data-seen"), ",")
		if seen[len(seen)-1] != "100" || c.attr(t, "#import-progress", "value") != "100" {
			t.Fatalf("progress ended at %v", seen)
		}
		moving := slices.ContainsFunc(seen, func(s string) bool { n, _ := strconv.Atoi(s); return n > 0 && n < 100 })
		if !moving {
			t.Fatalf("the progress bar jumped without moving: %v", seen)
		}
		if got := c.text(t, "#import-counts"); !strings.Contains(got, `"bound": 200000`) || !strings.Contains(got, `"rejected_count": 1`) {
			t.Fatalf("counts %q", got)
		}
		// The rejected lines download as CSV.
		csv := c.download(t, "#import-csv", "rejected.csv")
		if !strings.HasPrefix(csv, "line,reason\n200001,") || strings.Count(csv, "\n") != 2 {
			t.Fatalf("rejected CSV %q", csv)
		}
		shot("import")
	})

	step("dry-run then apply a reconcile", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "bj.txt")
		if err := os.WriteFile(file, []byte("alice\ncarol\ndave\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.do(t, "dry run", chromedp.Navigate(ui+"import"), chromedp.WaitVisible(chromedp.ID("import-form")),
			chromedp.SetValue(chromedp.ID("import-cluster"), "BJ"), chromedp.Click(chromedp.ID("mode-reconcile")),
			chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{file}), chromedp.Click(chromedp.ID("import-submit")),
			chromedp.WaitVisible(chromedp.CSS(`#import-result[data-state="dry-run"]`)), chromedp.WaitVisible(chromedp.ID("import-apply")))
		if got := c.text(t, "#import-counts"); !strings.Contains(got, `"added": 2`) || !strings.Contains(got, `"dry_run": true`) {
			t.Fatalf("dry-run counts %q", got)
		}
		if _, cs, _ := dir.UserClusters(ctx, directory.NamespaceUser, "carol"); len(cs) != 0 {
			t.Fatal("the dry run bound carol")
		}
		shot("reconcile-dry-run")
		c.do(t, "apply", chromedp.Click(chromedp.ID("import-apply")), chromedp.WaitVisible(chromedp.CSS(`#import-result[data-state="applied"]`)))
		if got := c.text(t, "#import-counts"); !strings.Contains(got, `"added": 2`) || !strings.Contains(got, `"dry_run": false`) {
			t.Fatalf("applied counts %q", got)
		}
		if _, cs, _ := dir.UserClusters(ctx, directory.NamespaceUser, "carol"); len(cs) != 1 || cs[0].Code != "BJ" {
			t.Fatalf("after apply carol is bound to %+v", cs)
		}
	})

	step("unlock a locked user", func(t *testing.T) {
		for range 12 {
			g.login(t, "bob", "wrong")
		}
		if got := g.login(t, "bob", "bob-pass"); !strings.Contains(got, "too_many_requests") {
			t.Fatalf("bob is not locked: %s", got)
		}
		c.do(t, "search", chromedp.Navigate(ui+"lockouts?username=bob"), chromedp.WaitVisible(chromedp.ID("lockout-state")))
		if got := c.text(t, "#lk-remaining"); got == "未锁定" {
			t.Fatal("the page shows no lock")
		}
		shot("lockouts")
		c.do(t, "unlock", chromedp.Click(chromedp.ID("unlock")), reloaded())
		// Unlocked, the login reaches the SSO again (which by now asks bob for a captcha, 2001,
		// after his wrong passwords: the SSO's own defence, not the gateway's).
		if got := g.login(t, "bob", "bob-pass"); strings.Contains(got, "too_many_requests") || !strings.Contains(got, `"cluster_code":"SH"`) {
			t.Fatalf("after unlock: %s", got)
		}
	})

	step("audit page shows every change", func(t *testing.T) {
		c.do(t, "open audit", chromedp.Click(chromedp.ID("nav-audit")), chromedp.WaitVisible(chromedp.ID("audit-table")))
		actions := run(t, c, "read actions", chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('#audit-table tr.audit-row')].map(r => r.dataset.action + ' ' + r.cells[1].textContent + ' ' + r.cells[4].textContent)`))
		for _, want := range []string{
			"cluster.put config cluster:BJ", "cluster.put admin cluster:SH", "cluster.delete admin cluster:TMP",
			"user.bind admin user:bob", "user.import admin cluster:SH", "lockout.clear admin user:bob",
			"user.reconcile admin cluster:BJ",
		} {
			if !slices.Contains(actions, want) {
				t.Fatalf("audit page lacks %q: %q", want, actions)
			}
		}
		c.do(t, "filter", chromedp.SetValue(chromedp.ID("audit-action"), audit.ActionUserImport), chromedp.Click(chromedp.ID("audit-filter")),
			// Only the filtered page, rendered by the server, marks the option selected.
			chromedp.WaitReady(chromedp.CSS(`#audit-action option[selected]`)))
		rows := run(t, c, "filtered rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#audit-table tr.audit-row')].map(r => r.dataset.action)`))
		if len(rows) != 1 || rows[0] != audit.ActionUserImport {
			t.Fatalf("filtered rows %q", rows)
		}
		if got := c.text(t, "#audit-table tr.audit-row td:last-child"); !strings.Contains(got, "bound=200000") || !strings.Contains(got, "rejected=1") {
			t.Fatalf("import detail %q", got)
		}
		shot("audit")
	})

	step("English switch", func(t *testing.T) {
		c.do(t, "switch", chromedp.Click(chromedp.ID("lang-switch")), chromedp.WaitVisible(chromedp.ID("audit-table")))
		if got := c.text(t, "#nav-overview"); got != "Overview" {
			t.Fatalf("after the switch the nav says %q", got)
		}
		c.do(t, "back to Chinese", chromedp.Click(chromedp.ID("lang-switch")), chromedp.WaitVisible(chromedp.ID("audit-table")))
	})

	step("every page without console errors", func(t *testing.T) {
		for _, p := range []string{"", "clusters", "users?username=bob", "users?list=SH", "import", "lockouts", "audit"} {
			c.do(t, "visit "+p, chromedp.Navigate(ui+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		}
		// Some traffic to SH, so that the overview shows a healthy cluster beside the broken one.
		for i := range 8 {
			pass := "bob-pass"
			if i == 3 {
				pass = "wrong"
			}
			g.login(t, "bob", pass)
		}
		c.do(t, "let the overview poll", chromedp.Navigate(ui), chromedp.Sleep(2500*time.Millisecond),
			chromedp.WaitVisible(chromedp.CSS(`#row-SH [data-breaker="closed"]`)))
		shot("overview")
		if bad := c.errors(); len(bad) != 0 {
			t.Fatalf("console errors: %v", bad)
		}
	})

	if out := os.Getenv("SSOGATE_SCREENSHOTS"); out != "" {
		for name, path := range shots {
			if b, err := os.ReadFile(path); err == nil {
				_ = os.WriteFile(filepath.Join(out, "console-"+name+".png"), b, 0o644)
			}
		}
	}
	t.Logf("screenshots in %s", c.shots)
}
