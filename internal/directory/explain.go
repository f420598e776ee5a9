package directory

import (
	"context"
	"fmt"
	"slices"
)

// Route outcomes of an explanation: what POST /oauth/token would answer for a password login
// without an invite code (SPEC section 2, step 5).
const (
	RouteForward   = "route" // forwarded to the one enabled cluster (200 from its SSO on a good password)
	RouteAmbiguous = "1000"  // bound to several enabled clusters: the app must send an invite code
	RouteUnknown   = "1004"  // bound to no enabled cluster
)

// BoundCluster is one cluster a username is bound to.
type BoundCluster struct {
	Cluster
	// Known is false for a binding whose cluster no longer exists (deleted a moment ago).
	Known bool
}

// Explanation says how the token endpoint routes a username, read from the store (not the
// cache) so that it shows the truth after a change.
type Explanation struct {
	Input      string
	Normalized string
	Namespace  Namespace
	Clusters   []BoundCluster
	Outcome    string // RouteForward, RouteAmbiguous or RouteUnknown
	RouteTo    string // the cluster code for RouteForward
}

// Explain looks a username up and applies the rules of ResolveNormalized to the result. An
// unusable username is ErrInvalid, as on the token endpoint.
func (d *Directory) Explain(ctx context.Context, ns Namespace, username string) (Explanation, error) {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return Explanation{}, err
	}
	sctx, cancel := d.storeCtx(ctx)
	defer cancel()
	codes, err := d.store.Lookup(sctx, ns, name)
	if err != nil {
		return Explanation{}, fmt.Errorf("lookup %q: %w", name, err)
	}
	ex := Explanation{Input: username, Normalized: name, Namespace: ns, Clusters: []BoundCluster{}, Outcome: RouteUnknown}
	t := d.table.Load()
	var enabled []string
	for _, code := range slices.Sorted(slices.Values(codes)) {
		c, ok := t.byCode[code]
		if !ok {
			ex.Clusters = append(ex.Clusters, BoundCluster{Cluster: Cluster{Code: code}})
			continue
		}
		ex.Clusters = append(ex.Clusters, BoundCluster{Cluster: *c, Known: true})
		if c.Enabled {
			enabled = append(enabled, code)
		}
	}
	switch len(enabled) {
	case 0:
	case 1:
		ex.Outcome, ex.RouteTo = RouteForward, enabled[0]
	default:
		ex.Outcome = RouteAmbiguous
	}
	return ex, nil
}
