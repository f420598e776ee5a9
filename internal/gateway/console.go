package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/ssogate/ssogate/internal/console"
	"github.com/ssogate/ssogate/internal/health"
	"github.com/ssogate/ssogate/internal/metrics"
	"github.com/ssogate/ssogate/internal/tokenapi"
)

// recorders feeds one token-endpoint answer to the metrics and to the console's in-process
// health figures, so tokenapi keeps its one Recorder. The metrics are embedded so that the
// optional recorder interfaces they implement (tokenapi.ErrorRecorder) stay visible to the
// token handler's type assertion.
type recorders struct {
	*metrics.Metrics
	h *health.Tracker
}

func (r recorders) Answered(code int, cluster string, elapsed time.Duration) {
	r.Metrics.Answered(code, cluster, elapsed)
	r.h.Answered(code, cluster, elapsed)
}

var _ tokenapi.ErrorRecorder = recorders{}

// consoleKeyName names the console's session key in the store (SharedSecret).
const consoleKeyName = "console-session-key"

// withConsole serves the console under /ui/ beside the admin API on the admin listener. The
// session key is the store's, so instances behind one address accept each other's sessions
// and a restart logs nobody out; a session lasts only while its token is still accepted.
func (g *Gateway) withConsole(ctx context.Context, api http.Handler) (http.Handler, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("console session key: %w", err)
	}
	key, err := g.store.SharedSecret(ctx, consoleKeyName, fresh)
	if err != nil {
		// The console still works, with sessions that end at restart and hold on this
		// instance only; the store being down at start is logged, not fatal.
		g.logger.Warn("console: session key not read from the store; sessions are this instance's until restart", "err", err)
		key = fresh
	}
	con, err := console.New(console.Options{
		Directory:    g.dir,
		API:          api,
		Authenticate: g.consoleLogin,
		StillValid:   g.tokens.HasAdmin,
		SessionKey:   key,
		Health:       g.health,
		Breaker:      g.fwd.BreakerState,
		Logger:       g.logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", con)
	mux.Handle("/ui", con)
	mux.Handle("/", api)
	return mux, nil
}

// consoleLogin accepts a token of scope admin: "auth in one place" — it asks the same token
// set as the API's middleware (reloaded with it), and refuses a cluster: token.
func (g *Gateway) consoleLogin(token string) (actor, binding string, ok bool) {
	p, fp, ok := g.tokens.Fingerprint(token)
	if !ok || !p.IsAdmin() {
		return "", "", false
	}
	return p.Name, fp, true
}
