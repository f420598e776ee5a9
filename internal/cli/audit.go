package cli

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// auditEntry is the part of an audit entry (internal/audit.Entry) the CLI prints.
type auditEntry struct {
	Time      time.Time        `json:"time"`
	Actor     string           `json:"actor"`
	Action    string           `json:"action"`
	Cluster   string           `json:"cluster"`
	Target    string           `json:"target"`
	Namespace string           `json:"namespace"`
	Before    map[string]any   `json:"before"`
	After     map[string]any   `json:"after"`
	Counts    map[string]int64 `json:"counts"`
}

// auditList prints the newest entries matching the filters, following the API's cursor
// until --limit entries are printed or the log ends.
func auditList(c *client, f *flags, _ []string) error {
	if f.limit < 1 {
		return usagef("--limit must be at least 1")
	}
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.actor, "action": f.action, "cluster": f.cluster} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var entries []auditEntry
	for cursor := ""; len(entries) < f.limit; {
		q.Set("limit", strconv.Itoa(min(f.limit-len(entries), 1000)))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Entries    []auditEntry `json:"entries"`
			NextCursor string       `json:"next_cursor"`
		}
		if err := c.getJSON("/admin/audit", q, &page); err != nil {
			return err
		}
		entries = append(entries, page.Entries...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tCLUSTER\tTARGET\tDETAIL")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Actor, e.Action,
			auditDash(e.Cluster), e.Target, auditDetail(e))
	}
	return tw.Flush()
}

// auditDetail summarises what changed: the fields of a cluster that differ, or the counts.
func auditDetail(e auditEntry) string {
	var parts []string
	if e.Namespace != "" && e.Namespace != "user" {
		parts = append(parts, "namespace="+e.Namespace)
	}
	for _, k := range sortedKeys(e.Counts) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, e.Counts[k]))
	}
	switch {
	case e.Before == nil && e.After != nil:
		parts = append(parts, "created")
	case e.Before != nil && e.After == nil:
		parts = append(parts, "deleted")
	case e.Before != nil:
		keys := map[string]bool{}
		for k := range e.Before {
			keys[k] = true
		}
		for k := range e.After {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			if b, a := fmt.Sprint(e.Before[k]), fmt.Sprint(e.After[k]); b != a {
				parts = append(parts, fmt.Sprintf("%s: %s → %s", k, b, a))
			}
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func auditDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
