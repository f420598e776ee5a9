package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"
)

// cluster is the admin API's cluster (SPEC section 5).
type cluster struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	SSOURL    string `json:"sso_url"`
	ServerURL string `json:"server_url"`
	TokenURL  string `json:"token_url"`
	Enabled   bool   `json:"enabled"`
	Breaker   string `json:"breaker,omitempty"`
	Sync      *struct {
		URL      string `json:"url"`
		Interval string `json:"interval"`
	} `json:"sync,omitempty"`
}

func clusterList(c *client, _ *flags, _ []string) error {
	var res struct {
		Clusters []cluster `json:"clusters"`
	}
	if err := c.getJSON("/admin/clusters", nil, &res); err != nil {
		return err
	}
	if len(res.Clusters) == 0 {
		fmt.Fprintln(c.out, "no clusters")
		return nil
	}
	breaker := false
	for _, cl := range res.Clusters {
		breaker = breaker || cl.Breaker != ""
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	header := "CODE\tNAME\tENABLED\tSSO_URL\tSERVER_URL\tTOKEN_URL"
	if breaker {
		header += "\tBREAKER"
	}
	fmt.Fprintln(tw, header)
	for _, cl := range res.Clusters {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", cl.Code, cl.Name, yesNo(cl.Enabled),
			cl.SSOURL, cl.ServerURL, orDash(cl.TokenURL))
		if breaker {
			line += "\t" + orDash(cl.Breaker)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func clusterGet(c *client, _ *flags, pos []string) error {
	var cl cluster
	if err := c.getJSON("/admin/clusters/"+seg(pos[0]), nil, &cl); err != nil {
		return err
	}
	printCluster(c, cl)
	return nil
}

func printCluster(c *client, cl cluster) {
	tw := tabwriter.NewWriter(c.out, 0, 4, 1, ' ', 0)
	tokenURL := cl.TokenURL
	if tokenURL == "" {
		tokenURL = "(default: sso_url + /oauth/token)"
	}
	fmt.Fprintf(tw, "code:\t%s\n", cl.Code)
	fmt.Fprintf(tw, "name:\t%s\n", cl.Name)
	fmt.Fprintf(tw, "sso_url:\t%s\n", cl.SSOURL)
	fmt.Fprintf(tw, "server_url:\t%s\n", cl.ServerURL)
	fmt.Fprintf(tw, "token_url:\t%s\n", tokenURL)
	fmt.Fprintf(tw, "enabled:\t%s\n", yesNo(cl.Enabled))
	if cl.Breaker != "" {
		fmt.Fprintf(tw, "breaker:\t%s\n", cl.Breaker)
	}
	if cl.Sync != nil {
		fmt.Fprintf(tw, "sync:\tevery %s from %s\n", cl.Sync.Interval, cl.Sync.URL)
	}
	_ = tw.Flush()
}

func clusterPut(c *client, f *flags, pos []string) error {
	var missing []string
	for _, m := range []struct{ flag, v string }{
		{"--name", f.name}, {"--sso-url", f.ssoURL}, {"--server-url", f.serverURL},
	} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return usagef("cluster put needs %v", missing)
	}
	in := map[string]any{
		"name": f.name, "sso_url": f.ssoURL, "server_url": f.serverURL,
		"token_url": f.tokenURL, "enabled": !f.disabled,
	}
	sync, err := f.syncSpec()
	if err != nil {
		return err
	}
	if sync != nil {
		in["sync"] = sync
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding cluster %s: %w", pos[0], err)
	}
	var cl cluster
	status, err := c.do(request{method: http.MethodPut, path: "/admin/clusters/" + seg(pos[0]),
		body: bytes.NewReader(body), contentType: "application/json", contentLen: int64(len(body))}, &cl)
	if err != nil {
		return err
	}
	verb := "updated"
	if status == http.StatusCreated {
		verb = "created"
	}
	fmt.Fprintf(c.out, "%s cluster %s\n", verb, cl.Code)
	printCluster(c, cl)
	return nil
}

func clusterRm(c *client, _ *flags, pos []string) error {
	_, err := c.do(request{method: http.MethodDelete, path: "/admin/clusters/" + seg(pos[0]), contentLen: -1}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "removed cluster %s\n", pos[0])
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// syncSpec is the "sync" object of cluster put (SPEC section 8), nil without --sync-url.
func (f *flags) syncSpec() (map[string]any, error) {
	if f.syncURL == "" {
		if f.syncInterval != "" || f.syncHeaderName != "" || f.syncHeaderEnv != "" {
			return nil, usagef("--sync-interval and --sync-header-* need --sync-url")
		}
		return nil, nil
	}
	interval := f.syncInterval
	if interval == "" {
		interval = "15m"
	}
	if _, err := time.ParseDuration(interval); err != nil {
		return nil, usagef("--sync-interval %q: a duration such as 15m or 1h is required", interval)
	}
	spec := map[string]any{"url": f.syncURL, "interval": interval}
	if f.syncHeaderName != "" || f.syncHeaderEnv != "" {
		spec["header_name"], spec["header_value_env"] = f.syncHeaderName, f.syncHeaderEnv
	}
	return spec, nil
}
