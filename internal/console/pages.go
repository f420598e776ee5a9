package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/audit"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/health"
)

// pageTimeout bounds the store reads of one page, so a page answers even when the store hangs.
const pageTimeout = 3 * time.Second

type clusterRow struct {
	directory.Cluster
	Breaker string
	F       health.Figures
}

type overviewData struct {
	StoreOK   bool
	StoreErr  string
	CacheSize int
	HitRatio  float64
	Rows      []clusterRow
	Err       string
}

func (s *server) overviewData(ctx context.Context) overviewData {
	ctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	var d overviewData
	if err := s.dir.Ready(ctx); err != nil {
		d.StoreErr = err.Error()
	} else {
		d.StoreOK = true
	}
	st := s.dir.Stats()
	d.CacheSize = st.CachedUsernames
	if total := st.CacheHits + st.CacheMisses; total > 0 {
		d.HitRatio = float64(st.CacheHits) / float64(total)
	}
	clusters, err := s.dir.ListClusters(ctx)
	if err != nil {
		d.Err = err.Error()
	}
	for _, c := range clusters {
		row := clusterRow{Cluster: c}
		if s.opts.Health != nil {
			row.F = s.opts.Health.Figures(c.Code)
		}
		row.Breaker = row.F.Breaker
		if s.opts.Breaker != nil {
			row.Breaker = s.opts.Breaker(c.Code)
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "overview", "", s.newView(r, "overview", s.overviewData(r.Context())))
}

// overviewLive is the fragment the overview page polls (SPEC section 9: live, ≤ 5 s old).
func (s *server) overviewLive(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "overview", "live", s.newView(r, "overview", s.overviewData(r.Context())))
}

type clustersData struct {
	Rows []clusterRow
	Err  string
}

func (s *server) clusters(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	var d clustersData
	list, err := s.dir.ListClusters(ctx)
	if err != nil {
		d.Err = err.Error()
	}
	for _, c := range list {
		row := clusterRow{Cluster: c}
		if s.opts.Breaker != nil {
			row.Breaker = s.opts.Breaker(c.Code)
		}
		d.Rows = append(d.Rows, row)
	}
	s.render(w, http.StatusOK, "clusters", "", s.newView(r, "clusters", d))
}

type probeResult struct {
	OK      bool
	Status  int
	Latency time.Duration
	Err     string
	URL     string
}

// probe checks that a cluster's token URL answers at all (any HTTP status is reachable) and
// how fast. It is a GET, so the SSO sees no login attempt.
func (s *server) probe(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ProbeTimeout)
	defer cancel()
	var res probeResult
	c, err := s.dir.GetCluster(ctx, r.PathValue("code"))
	if err != nil {
		res.Err = err.Error()
	} else {
		res.URL = c.EffectiveTokenURL()
		res = doProbe(ctx, res.URL)
	}
	s.render(w, http.StatusOK, "clusters", "probe", s.newView(r, "clusters", res))
}

var probeClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func doProbe(ctx context.Context, u string) probeResult {
	res := probeResult{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	start := time.Now()
	resp, err := probeClient.Do(req)
	res.Latency = time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is shown beside it already
		}
		res.Err = err.Error()
		return res
	}
	resp.Body.Close()
	res.OK, res.Status = true, resp.StatusCode
	return res
}

type usersData struct {
	Username string
	Client   string
	Ex       *directory.Explanation
	Err      string
	Clusters []directory.Cluster
	List     string
	Users    []string
	Next     string
	ListErr  string
}

// Query is the page's query string with extra key/value pairs; already encoded, so it is a
// template.URL (html/template would otherwise escape its '&' and '=' inside an href).
func (d usersData) Query(extra ...string) template.URL {
	q := url.Values{}
	if d.Client == "manager" {
		q.Set("client", "manager")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return template.URL(q.Encode())
}

// userPageSize is the number of usernames per page of the per-cluster list.
const userPageSize = 100

func (s *server) users(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	q := r.URL.Query()
	d := usersData{Username: q.Get("username"), Client: q.Get("client"), List: q.Get("list")}
	ns := directory.NamespaceFor(d.Client)
	d.Clusters, _ = s.dir.ListClusters(ctx)
	if d.Username != "" {
		ex, err := s.dir.Explain(ctx, ns, d.Username)
		if err != nil {
			d.Err = errText(err)
		} else {
			d.Ex = &ex
		}
	}
	if d.List != "" {
		users, next, err := s.dir.ListUsers(ctx, ns, d.List, q.Get("cursor"), userPageSize)
		if err != nil {
			d.ListErr = errText(err)
		}
		d.Users, d.Next = users, next
	}
	s.render(w, http.StatusOK, "users", "", s.newView(r, "users", d))
}

func errText(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+directory.ErrInvalid.Error())
}

type syncRow struct {
	Code   string
	Status map[string]any
	Err    string
}

type importData struct {
	Clusters []directory.Cluster
	Sync     []syncRow
}

func (s *server) importPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	var d importData
	d.Clusters, _ = s.dir.ListClusters(ctx)
	for _, c := range d.Clusters {
		row := syncRow{Code: c.Code}
		// The scheduled sync's status is the API's (SPEC section 8): GET /admin/clusters/{code}/sync.
		if _, err := s.apiGet(ctx, "/admin/clusters/"+url.PathEscape(c.Code)+"/sync", &row.Status); err != nil {
			row.Err = err.Error()
		}
		d.Sync = append(d.Sync, row)
	}
	s.render(w, http.StatusOK, "import", "", s.newView(r, "import", d))
}

type lockoutState struct {
	Failures    int64    `json:"failures"`
	LockedUntil flexTime `json:"locked_until"`
	Strikes     int64    `json:"strikes"`
}

// flexTime reads a time the API may write as RFC 3339 text, Unix seconds, "" or null (no lock).
type flexTime struct{ time.Time }

func (f *flexTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch {
	case s == "" || s == "null" || s == "0":
		f.Time = time.Time{}
		return nil
	case strings.ContainsAny(s, "T-:"):
		t, err := time.Parse(time.RFC3339Nano, s)
		f.Time = t
		return err
	default:
		var sec float64
		if _, err := fmt.Sscan(s, &sec); err != nil {
			return err
		}
		f.Time = time.Unix(0, int64(sec*1e9))
		return nil
	}
}

type lockoutsData struct {
	Username, IP, Client string
	Searched             bool
	State                *lockoutState
	Remaining            time.Duration
	Err                  string
}

func (d lockoutsData) ClearQuery() string {
	q := url.Values{}
	if d.Username != "" {
		q.Set("username", d.Username)
	}
	if d.IP != "" {
		q.Set("ip", d.IP)
	}
	if d.Client == "manager" {
		q.Set("client", "manager")
	}
	return q.Encode()
}

func (s *server) lockouts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	q := r.URL.Query()
	d := lockoutsData{Username: strings.TrimSpace(q.Get("username")), IP: strings.TrimSpace(q.Get("ip")), Client: q.Get("client")}
	if d.Username != "" || d.IP != "" {
		d.Searched = true
		var st lockoutState
		// The brute-force state is the API's (SPEC section 9): GET /admin/lockouts.
		if _, err := s.apiGet(ctx, "/admin/lockouts?"+d.ClearQuery(), &st); err != nil {
			d.Err = err.Error()
		} else {
			d.State = &st
			if left := time.Until(st.LockedUntil.Time); left > 0 {
				d.Remaining = left.Round(time.Second)
			}
		}
	}
	s.render(w, http.StatusOK, "lockouts", "", s.newView(r, "lockouts", d))
}

type auditData struct {
	Filter  audit.Filter
	Entries []audit.Entry
	Next    string
	Err     string
}

func (d auditData) NextQuery() template.URL {
	q := url.Values{}
	for k, v := range map[string]string{"actor": d.Filter.Actor, "action": d.Filter.Action, "cluster": d.Filter.Cluster, "cursor": d.Next} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return template.URL(q.Encode())
}

func (s *server) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTimeout)
	defer cancel()
	q := r.URL.Query()
	d := auditData{Filter: audit.Filter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Cluster: strings.ToUpper(strings.TrimSpace(q.Get("cluster")))}}
	entries, next, err := s.dir.AuditLog(ctx, audit.Query{Filter: d.Filter, Cursor: q.Get("cursor"), Limit: 100})
	if err != nil {
		d.Err = fmt.Sprint(err)
	}
	d.Entries, d.Next = entries, next
	s.render(w, http.StatusOK, "audit", "", s.newView(r, "audit", d))
}
