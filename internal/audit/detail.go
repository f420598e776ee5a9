package audit

import (
	"fmt"
	"sort"
	"strings"
)

// Detail summarises an entry for people: the namespace when not the default, the counts, and
// for a cluster change what was created, deleted or which fields changed.
func (e Entry) Detail() string {
	var parts []string
	if e.Namespace != "" && e.Namespace != "user" {
		parts = append(parts, "namespace="+e.Namespace)
	}
	keys := make([]string, 0, len(e.Counts))
	for k := range e.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, e.Counts[k]))
	}
	switch {
	case e.Before == nil && e.After != nil:
		parts = append(parts, "created")
	case e.Before != nil && e.After == nil:
		parts = append(parts, "deleted")
	case e.Before != nil:
		b, a := *e.Before, *e.After
		diff := func(name string, x, y any) {
			if x != y {
				parts = append(parts, fmt.Sprintf("%s: %v → %v", name, x, y))
			}
		}
		diff("name", b.Name, a.Name)
		diff("sso_url", b.SSOURL, a.SSOURL)
		diff("server_url", b.ServerURL, a.ServerURL)
		diff("token_url", b.TokenURL, a.TokenURL)
		diff("enabled", b.Enabled, a.Enabled)
		diff("sync_url", b.SyncURL, a.SyncURL)
	}
	return strings.Join(parts, ", ")
}
