package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
)

func putCluster(t *testing.T, e *env, code string, enabled bool) {
	t.Helper()
	if _, err := e.dir.PutCluster(directory.WithActor(t.Context(), "test"), directory.Cluster{Code: code, Name: "集群" + code,
		SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1", Enabled: enabled}); err != nil {
		t.Fatal(err)
	}
}

// SPEC section 9, Users: the lookup explains the route — normalised name, namespace, each bound
// cluster enabled or not, and what the token endpoint answers.
func TestUsersPageExplains(t *testing.T) {
	e := newEnv(t, false)
	putCluster(t, e, "BJ", true)
	putCluster(t, e, "SH", true)
	putCluster(t, e, "GZ", false)
	ctx := t.Context()
	bind := func(ns directory.Namespace, user string, codes ...string) {
		for _, c := range codes {
			if err := e.dir.Bind(ctx, ns, user, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	bind(directory.NamespaceUser, "one", "BJ", "GZ")
	bind(directory.NamespaceUser, "two", "BJ", "SH")
	bind(directory.NamespaceUser, "off", "GZ")
	bind(directory.NamespaceManager, "boss", "SH")
	b := e.loggedIn(t)
	cases := []struct {
		name, query string
		want        []string
	}{
		{"one enabled cluster routes", "username=+one+", []string{`data-outcome="route"`, "转发到集群 BJ", `id="ex-normalized">one<`, "GZ", "停用"}},
		{"two enabled clusters are 1000", "username=two", []string{`data-outcome="1000"`, "1000"}},
		{"only a disabled cluster is 1004", "username=off", []string{`data-outcome="1004"`, "GZ", "停用"}},
		{"unknown is 1004", "username=nobody", []string{`data-outcome="1004"`}},
		{"namespaces are apart", "username=boss", []string{`data-outcome="1004"`}},
		{"manager namespace", "username=boss&client=manager", []string{`data-outcome="route"`, `id="ex-namespace">manager<`}},
		{"invalid name", "username=a%01b", []string{`id="lookup-error"`, "control character"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/ui/users?" + tc.query)
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Fatalf("users?%s lacks %q", tc.query, w)
				}
			}
		})
	}
}

// Users: the per-cluster list pages through every bound username exactly once.
func TestUsersPageListsPaged(t *testing.T) {
	e := newEnv(t, false)
	putCluster(t, e, "BJ", true)
	b := e.loggedIn(t)
	var names strings.Builder
	for i := range 250 {
		names.WriteString("u" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i) + "\n")
	}
	if p := b.api(http.MethodPost, "/admin/clusters/BJ/users", names.String()); p.status != http.StatusOK {
		t.Fatalf("import: %d %s", p.status, p.body)
	}
	seen := map[string]bool{}
	path := "/ui/users?list=BJ"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("more pages than 250 names need")
		}
		p := b.get(path)
		for _, part := range strings.Split(p.body, "<li><a href=")[1:] {
			name := part[strings.Index(part, ">")+1 : strings.Index(part, "</a>")]
			if seen[name] {
				t.Fatalf("%s listed twice", name)
			}
			seen[name] = true
		}
		path = ""
		if i := strings.Index(p.body, `id="next-page" href="`); i >= 0 {
			rest := p.body[i+len(`id="next-page" href="`):]
			path = strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
		}
	}
	if len(seen) != 250 {
		t.Fatalf("listed %d usernames, want 250", len(seen))
	}
}

// Changes through the console's bridge are the API's: its validation, its answers, and its audit
// trail with the session's actor.
func TestBridgeChangesAreAudited(t *testing.T) {
	e := newEnv(t, false)
	putCluster(t, e, "BJ", true)
	b := e.loggedIn(t)
	if p := b.api(http.MethodPut, "/admin/clusters/BJ/users/alice", ""); p.status != http.StatusOK {
		t.Fatalf("bind: %d %s", p.status, p.body)
	}
	if p := b.api(http.MethodDelete, "/admin/clusters/BJ/users/alice", ""); p.status != http.StatusNoContent {
		t.Fatalf("unbind: %d %s", p.status, p.body)
	}
	if p := b.api(http.MethodPut, "/admin/clusters/bad%20code", `{"name":"x"}`); p.status != http.StatusBadRequest || !strings.Contains(p.body, `"error"`) {
		t.Fatalf("invalid cluster through the bridge: %d %s", p.status, p.body)
	}
	if p := b.api(http.MethodPost, "/admin/clusters/BJ/users?client=manager", "a\nb\n\x01\n"); p.status != http.StatusOK || !strings.Contains(p.body, `"bound":2`) {
		t.Fatalf("import: %d %s", p.status, p.body)
	}
	entries, _, err := e.dir.AuditLog(t.Context(), audit.Query{Filter: audit.Filter{Actor: "ops"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Action+" "+en.Target+" "+en.Namespace)
	}
	want := []string{"user.import cluster:BJ manager", "user.unbind user:alice user", "user.bind user:alice user"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit by ops = %q, want %q", got, want)
	}
	// The audit page shows them, filtered.
	p := b.get("/ui/audit?actor=ops&action=user.import")
	if strings.Count(p.body, `class="audit-row"`) != 1 || !strings.Contains(p.body, "namespace=manager, bound=2, rejected=1") {
		t.Fatalf("audit page:\n%s", p.body)
	}
}

// Overview: every cluster with its live figures, and the instance's store and cache.
func TestOverviewShowsFigures(t *testing.T) {
	e := newEnv(t, false)
	putCluster(t, e, "BJ", true)
	putCluster(t, e, "SH", false)
	for i := range 4 {
		code := 200
		if i == 0 {
			code = 1002
		}
		e.health.Answered(code, "BJ", 0)
		e.health.ObserveSSO("BJ", 503, 0)
	}
	e.health.BreakerChanged("BJ", "closed", "open")
	b := e.loggedIn(t)
	p := b.do(http.MethodGet, "/ui/overview/live", "", nil, map[string]string{"HX-Request": "true"})
	for _, w := range []string{`id="row-BJ"`, `id="row-SH"`, `data-breaker="open"`, "熔断", "HTTP 503", "25.0%", `id="store-health" class="ok"`,
		`hx-trigger="every 2s"`} {
		if !strings.Contains(p.body, w) {
			t.Fatalf("live fragment lacks %q:\n%s", w, p.body)
		}
	}
	if strings.Contains(p.body, "<html") {
		t.Fatal("the live fragment is a whole page")
	}
}

// Clusters: the probe reaches the token URL (any status counts) and says how long it took.
func TestProbe(t *testing.T) {
	e := newEnv(t, false)
	// The console's own listener answers 404 at /sso/oauth/token: reachable.
	if _, err := e.dir.PutCluster(t.Context(), directory.Cluster{Code: "UP", Name: "up", SSOURL: e.srv.URL + "/sso",
		ServerURL: e.srv.URL, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	putCluster(t, e, "DOWN", true)
	b := e.loggedIn(t)
	hdr := map[string]string{"X-CSRF-Token": b.csrf, "HX-Request": "true"}
	up := b.do(http.MethodPost, "/ui/clusters/UP/probe", "", nil, hdr)
	if !strings.Contains(up.body, `data-probe="ok"`) || !strings.Contains(up.body, "HTTP 404") || !strings.Contains(up.body, " ms") {
		t.Fatalf("probe UP: %s", up.body)
	}
	down := b.do(http.MethodPost, "/ui/clusters/DOWN/probe", "", nil, hdr)
	if !strings.Contains(down.body, `data-probe="fail"`) {
		t.Fatalf("probe DOWN: %s", down.body)
	}
	if p := b.do(http.MethodPost, "/ui/clusters/UP/probe", "", nil, map[string]string{"HX-Request": "true"}); p.status != http.StatusForbidden {
		t.Fatalf("probe without CSRF token: %d", p.status)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}
