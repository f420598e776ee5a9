package admin

import "context"

// LegacyActor is the audit actor of the single, unnamed admin_token.
const LegacyActor = ActorLegacyToken

type authenticatedKey struct{}

// Authenticated marks ctx as carrying a caller already authenticated with scope admin by
// another credential (the console's session, internal/console), with actor as its name.
// The API then serves the request without a bearer token, through the same routes and
// scope checks (Require): the console is a second surface over the same handlers, never a
// second path to the stores. Only in-process code can set a context value, so no HTTP
// request can claim it.
func Authenticated(ctx context.Context, actor string) context.Context {
	p := Principal{Name: actor}
	return context.WithValue(WithPrincipal(ctx, p), authenticatedKey{}, p)
}

func authenticatedPrincipal(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(authenticatedKey{}).(Principal)
	return p, ok
}
