package directory

import "context"

// Route is a username the directory's rules have accepted (trimmed, within limits, case folded
// when the directory folds case), in its namespace: what a login is rate-limited by and routed
// by. Making it a value keeps "normalise once per login" out of the token endpoint's interface
// (it needs the canonical name for its rate-limit key before it resolves).
type Route struct {
	Namespace Namespace
	Name      string // canonical
	d         *Directory
}

// Route normalises username for namespace ns; ErrInvalid (wrapped) for an unusable username.
func (d *Directory) Route(ns Namespace, username string) (Route, error) {
	name, err := d.NormalizeUsername(username)
	if err != nil {
		return Route{}, err
	}
	return Route{Namespace: ns, Name: name, d: d}, nil
}

// Resolve is Directory.Resolve for this username (SPEC section 2, step 5).
func (r Route) Resolve(ctx context.Context, inviteCode string) (Cluster, error) {
	return r.d.ResolveNormalized(ctx, r.Namespace, r.Name, inviteCode)
}
