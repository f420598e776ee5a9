package admin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

type rejected struct {
	line   int
	reason string // a fragment
}

func rejectedOf(t *testing.T, r result) []rejected {
	t.Helper()
	list, ok := r.body["rejected"].([]any)
	if !ok {
		t.Fatalf("rejected is not a list: %s", r.raw)
	}
	out := []rejected{}
	for _, x := range list {
		m := x.(map[string]any)
		out = append(out, rejected{line: int(m["line"].(float64)), reason: m["reason"].(string)})
	}
	return out
}

func TestBulkBindMixedLines(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		body     string
		bound    int
		rejected []rejected
		users    []string // now bound in the namespace of query
	}{
		{
			name: "valid, blank and invalid lines",
			body: "alice\n\n  bob  \r\nbad\x01name\n" + strings.Repeat("y", 300) + "\n" +
				strings.Repeat("z", 5000) + "\n\t\ncarol",
			bound: 3,
			rejected: []rejected{
				{line: 4, reason: "control character"},
				{line: 5, reason: "256 bytes"},
				{line: 6, reason: "4096 bytes"},
			},
			users: []string{"alice", "bob", "carol"},
		},
		{
			// Spreadsheet exports start with a BOM and end lines with CRLF.
			name:  "BOM and CRLF",
			body:  "\uFEFFdave\r\nerin\r\n",
			bound: 2,
			users: []string{"dave", "erin"},
		},
		{
			name:     "invalid UTF-8 in the middle",
			body:     "frank\n\xff\xfe\ngrace\n",
			bound:    2,
			rejected: []rejected{{line: 2, reason: "UTF-8"}},
			users:    []string{"frank", "grace"},
		},
		{
			// A line far longer than the read buffer is skipped, not fatal.
			name:     "line longer than the read buffer",
			body:     "heidi\n" + strings.Repeat("q", 200_000) + "\nivan\n" + strings.Repeat("r", 70_000),
			bound:    2,
			rejected: []rejected{{line: 2, reason: "longer"}, {line: 4, reason: "longer"}},
			users:    []string{"heidi", "ivan"},
		},
		{name: "empty body", body: "", bound: 0},
		{name: "manager namespace", query: "?client=manager", body: "boss\n", bound: 1, users: []string{"boss"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.putCluster(t, "A", "Alpha")
			r := e.do(t, "POST", "/admin/clusters/A/users"+tc.query, tc.body).want(t, 200)
			if got := int(r.body["bound"].(float64)); got != tc.bound {
				t.Errorf("bound = %d, want %d (%s)", got, tc.bound, r.raw)
			}
			got := rejectedOf(t, r)
			if len(got) != len(tc.rejected) {
				t.Fatalf("rejected = %v, want %v", got, tc.rejected)
			}
			for i, w := range tc.rejected {
				if got[i].line != w.line || !strings.Contains(got[i].reason, w.reason) {
					t.Errorf("rejected[%d] = %+v, want line %d with %q", i, got[i], w.line, w.reason)
				}
			}
			if n := int(r.body["rejected_count"].(float64)); n != len(tc.rejected) {
				t.Errorf("rejected_count = %d, want %d", n, len(tc.rejected))
			}
			for _, u := range tc.users {
				if codes := e.lookup(t, u, tc.query); !slices.Equal(codes, []string{"A"}) {
					t.Errorf("%s is bound to %v, want [A]", u, codes)
				}
			}
			if tc.query != "" {
				for _, u := range tc.users {
					if codes := e.lookup(t, u, ""); len(codes) != 0 {
						t.Errorf("%s leaked into the user namespace: %v", u, codes)
					}
				}
			}
		})
	}
}

// The rejected list is capped so that a wrong file cannot make a huge answer; the count is not.
func TestBulkBindCapsRejectedList(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	body := strings.Repeat("bad\x02\n", 1500) + "ok\n"
	r := e.do(t, "POST", "/admin/clusters/A/users", body).want(t, 200)
	if got := rejectedOf(t, r); len(got) != 1000 || got[999].line != 1000 {
		t.Errorf("%d rejected listed (last %+v), want the first 1000", len(got), got[len(got)-1])
	}
	if n := int(r.body["rejected_count"].(float64)); n != 1500 {
		t.Errorf("rejected_count = %d, want 1500", n)
	}
	if b := int(r.body["bound"].(float64)); b != 1 {
		t.Errorf("bound = %d, want 1", b)
	}
}

func TestBulkBindErrors(t *testing.T) {
	e := newEnv(t)
	e.putCluster(t, "A", "Alpha")
	tests := []struct {
		name, path string
		status     int
	}{
		{name: "unknown cluster", path: "/admin/clusters/NOPE/users", status: 404},
		{name: "invalid code", path: "/admin/clusters/no!pe/users", status: 400},
		{name: "unknown client", path: "/admin/clusters/A/users?client=admin", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, "POST", tc.path, "alice\n").want(t, tc.status)
		})
	}
	if codes := e.lookup(t, "alice", ""); len(codes) != 0 {
		t.Errorf("a refused import bound alice to %v", codes)
	}
}

// A large import is streamed: the body comes from a pipe that is never held whole, and the
// first batch is visible in the store while the client is still sending (SPEC section 7).
func TestBulkBindStreamsLargeImport(t *testing.T) {
	if testing.Short() {
		t.Skip("large import")
	}
	const total = 200_000
	e := newEnv(t)
	e.putCluster(t, "BIG", "Big")
	name := func(i int) string { return fmt.Sprintf("user%07d", i) }

	pr, pw := io.Pipe()
	firstBatchSeen := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(pw)
		err := func() error {
			for i := 1; i <= total; i++ {
				if _, err := w.WriteString(name(i) + "\n"); err != nil {
					return err
				}
				if i == 6000 { // past the first batch of directory.BulkBindBatch (5000)
					if err := w.Flush(); err != nil {
						return err
					}
					<-firstBatchSeen
				}
			}
			return w.Flush()
		}()
		pw.CloseWithError(err)
		writeErr <- err
	}()
	go func() {
		defer close(firstBatchSeen)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if e.isBound(name(1)) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("the first batch was not written while the body was still streaming")
	}()

	r := e.do(t, "POST", "/admin/clusters/BIG/users", io.Reader(pr)).want(t, 200)
	if err := <-writeErr; err != nil {
		t.Fatalf("writing the body: %v", err)
	}
	if got := int(r.body["bound"].(float64)); got != total {
		t.Errorf("bound = %d, want %d", got, total)
	}
	if n := int(r.body["rejected_count"].(float64)); n != 0 {
		t.Errorf("rejected_count = %d, want 0", n)
	}
	for _, i := range []int{1, total / 2, total} {
		if codes := e.lookup(t, name(i), ""); !slices.Equal(codes, []string{"BIG"}) {
			t.Errorf("%s bound to %v, want [BIG]", name(i), codes)
		}
	}
}

// isBound reports whether username has a binding; it never calls t.Fatal, so that it can run
// beside the request in flight.
func (e *env) isBound(username string) bool {
	req, err := http.NewRequest("GET", e.srv.URL+"/admin/users/"+url.PathEscape(username), nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		Clusters []any `json:"clusters"`
	}
	return json.NewDecoder(resp.Body).Decode(&body) == nil && len(body.Clusters) > 0
}
