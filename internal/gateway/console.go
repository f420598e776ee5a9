package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/ssogate/ssogate/internal/admin"
	"github.com/ssogate/ssogate/internal/console"
	"github.com/ssogate/ssogate/internal/health"
	"github.com/ssogate/ssogate/internal/metrics"
)

// recorders feeds one token-endpoint answer to the metrics and to the console's in-process
// health figures, so tokenapi keeps its one Recorder.
type recorders struct {
	m *metrics.Metrics
	h *health.Tracker
}

func (r recorders) Answered(code int, cluster string, elapsed time.Duration) {
	r.m.Answered(code, cluster, elapsed)
	r.h.Answered(code, cluster, elapsed)
}

// withConsole serves the console under /ui/ beside the admin API on the admin listener.
func (g *Gateway) withConsole(api http.Handler) (http.Handler, error) {
	con, err := console.New(console.Options{
		Directory:    g.dir,
		API:          api,
		Authenticate: g.consoleLogin,
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

// consoleLogin accepts the admin token (scope admin). It is the console's half of "auth in one
// place": when admin tokens get names and scopes, this asks the same table the API's
// middleware does, and refuses every scope but admin.
func (g *Gateway) consoleLogin(token string) (string, bool) {
	if g.adminToken == "" || token == "" {
		return "", false
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(g.adminToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return "", false
	}
	return admin.LegacyActor, true
}
