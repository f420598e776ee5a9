package gateway

import (
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

// consoleLogin accepts a token of scope admin: "auth in one place" — it asks the same token
// set as the API's middleware (reloaded with it), and refuses a cluster: token.
func (g *Gateway) consoleLogin(token string) (string, bool) {
	p, ok := g.tokens.Verify(token)
	if !ok || !p.IsAdmin() {
		return "", false
	}
	return p.Name, true
}
