package admin

import (
	"context"

	"github.com/ssogate/ssogate/internal/directory"
)

// LegacyActor is the audit actor of the single, unnamed admin_token.
const LegacyActor = "admin"

type authenticatedKey struct{}

// Authenticated marks ctx as carrying a caller already authenticated with admin scope by
// another credential (the console's session, internal/console), with actor as its name.
// The API then serves the request without a bearer token: the console is a second surface
// over the same routes and handlers, never a second path to the stores. Only in-process code
// can set a context value, so no HTTP request can claim it.
func Authenticated(ctx context.Context, actor string) context.Context {
	return context.WithValue(directoryActor(ctx, actor), authenticatedKey{}, true)
}

func authenticated(ctx context.Context) bool {
	ok, _ := ctx.Value(authenticatedKey{}).(bool)
	return ok
}

func directoryActor(ctx context.Context, actor string) context.Context {
	return directory.WithActor(ctx, actor)
}
