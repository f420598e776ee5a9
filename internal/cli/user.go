package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// listPageSize is the page size of "user list": the API's maximum, fewest round trips.
const listPageSize = 1000

// query carries ?client=manager when --manager is set.
func (f *flags) query() url.Values {
	q := url.Values{}
	if f.manager {
		q.Set("client", "manager")
	}
	return q
}

func bindingPath(code, user string) string {
	return "/admin/clusters/" + seg(code) + "/users/" + seg(user)
}

func userBind(c *client, f *flags, pos []string) error {
	var res struct {
		Username    string `json:"username"`
		ClusterCode string `json:"cluster_code"`
	}
	_, err := c.do(request{method: http.MethodPut, path: bindingPath(pos[0], pos[1]), query: f.query(), contentLen: -1}, &res)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "bound %s to %s (%s)\n", res.Username, res.ClusterCode, f.namespaceLabel())
	return nil
}

func userUnbind(c *client, f *flags, pos []string) error {
	_, err := c.do(request{method: http.MethodDelete, path: bindingPath(pos[0], pos[1]), query: f.query(), contentLen: -1}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "unbound %s from %s (%s)\n", pos[1], pos[0], f.namespaceLabel())
	return nil
}

func userLookup(c *client, f *flags, pos []string) error {
	var res struct {
		Username string `json:"username"`
		Clusters []struct {
			ClusterCode string `json:"cluster_code"`
			Name        string `json:"name"`
			Enabled     *bool  `json:"enabled"`
		} `json:"clusters"`
	}
	if err := c.getJSON("/admin/users/"+seg(pos[0]), f.query(), &res); err != nil {
		return err
	}
	if len(res.Clusters) == 0 {
		fmt.Fprintf(c.out, "%s is not bound to any cluster (%s)\n", res.Username, f.namespaceLabel())
		return nil
	}
	fmt.Fprintf(c.out, "%s (%s) is bound to:\n", res.Username, f.namespaceLabel())
	tw := newTable(c.out, 2)
	tw.row("CLUSTER", "NAME", "ENABLED")
	for _, cl := range res.Clusters {
		enabled := "-"
		if cl.Enabled != nil {
			enabled = yesNo(*cl.Enabled)
		}
		tw.row(cl.ClusterCode, cl.Name, enabled)
	}
	return tw.flush()
}

// userList prints every username bound to a cluster, one a line, page by page as they come.
func userList(c *client, f *flags, pos []string) error {
	q := f.query()
	q.Set("limit", strconv.Itoa(listPageSize))
	path := "/admin/clusters/" + seg(pos[0]) + "/users"
	for cursor, pages := "", 0; ; pages++ {
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Usernames  []string `json:"usernames"`
			NextCursor string   `json:"next_cursor"`
		}
		if err := c.getJSON(path, q, &page); err != nil {
			return err
		}
		for _, u := range page.Usernames {
			if _, err := fmt.Fprintln(c.out, u); err != nil {
				return fmt.Errorf("writing the list: %w", err)
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		if page.NextCursor == cursor {
			return fmt.Errorf("listing %s: the API returned the same cursor twice after %d pages", pos[0], pages+1)
		}
		cursor = page.NextCursor
	}
}

// userImport streams a file of usernames (one a line) to the bulk import; the file is sent as
// the request body as it is read, never held in memory.
func userImport(c *client, f *flags, pos []string) error {
	var body io.Reader
	size := int64(-1)
	if pos[1] == "-" {
		body = io.NopCloser(stdin) // the transport closes a body; never close our stdin
	} else {
		file, err := os.Open(pos[1])
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		body = file
	}
	var res struct {
		Bound    int `json:"bound"`
		Rejected []struct {
			Line   int64  `json:"line"`
			Reason string `json:"reason"`
		} `json:"rejected"`
		RejectedCount int64 `json:"rejected_count"`
	}
	_, err := c.do(request{method: http.MethodPost, path: "/admin/clusters/" + seg(pos[0]) + "/users",
		query: f.query(), body: body, contentType: "text/plain; charset=utf-8", contentLen: size, noTimeout: true}, &res)
	if err != nil {
		return err
	}
	rejected := max(res.RejectedCount, int64(len(res.Rejected)))
	fmt.Fprintf(c.out, "bound %d username(s) to %s (%s); %d line(s) rejected\n",
		res.Bound, pos[0], f.namespaceLabel(), rejected)
	for _, r := range res.Rejected {
		fmt.Fprintf(c.out, "  line %d: %s\n", r.Line, r.Reason)
	}
	if more := rejected - int64(len(res.Rejected)); more > 0 {
		fmt.Fprintf(c.out, "  … and %d more rejected line(s)\n", more)
	}
	return nil
}
