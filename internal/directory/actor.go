package directory

import "context"

// Actors of changes that no admin token made (SPEC section 9: the audit log's actor is the
// token's name, "config" or "sync").
const (
	ActorConfig = "config"
	ActorSync   = "sync"
)

type actorKey struct{}

// WithActor returns ctx carrying who makes the changes done with it: the admin token's name,
// ActorConfig for the configuration's clusters list, ActorSync for a scheduled sync. The write
// side (manage.go) reads it to record every change with its author.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, or "" when none was.
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}
