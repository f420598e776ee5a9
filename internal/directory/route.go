package directory

import "context"

// Route is a username the directory's rules have accepted (trimmed, within limits, case folded
// when the directory folds case), in its namespace: what a login is rate-limited by and routed
// by. Making it a value keeps "normalise once per login" out of the token endpoint's interface
// (it needs the canonical name for its rate-limit key before it resolves).
type Route struct {
	Namespace Namespace
	Name      string // canonical
	via       RouteResolver
}

// RouteResolver resolves a normalised username; *Directory is one, and a wrapper (the
// tracing span around the lookup) may stand in for it through Route.Via.
type RouteResolver interface {
	ResolveNormalized(ctx context.Context, ns Namespace, name, inviteCode string) (Cluster, error)
}

// Via returns r resolved through res instead of the directory that made it.
func (r Route) Via(res RouteResolver) Route {
	r.via = res
	return r
}

// Route normalises username for namespace ns; ErrInvalid (wrapped) for an unusable username.
func (d *Directory) Route(ns Namespace, username string) (Route, error) {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return Route{}, err
	}
	return Route{Namespace: ns, Name: name, via: d}, nil
}

// Resolve is Directory.Resolve for this username (SPEC section 2, step 5).
func (r Route) Resolve(ctx context.Context, inviteCode string) (Cluster, error) {
	return r.via.ResolveNormalized(ctx, r.Namespace, r.Name, inviteCode)
}
