package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/ssogate/ssogate/internal/certs"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/sso"
)

// certPollInterval is how often the certificate files are compared with what is served.
const certPollInterval = 2 * time.Second

// listenerTLS is the TLS state of the two listeners; a nil reloader serves plain HTTP.
type listenerTLS struct {
	public, admin *certs.Reloader
}

// ssoTLS is the gateway-wide TLS towards SSOs (sso.ca_file, sso.client_*_file).
func ssoTLS(cfg config.Config) sso.TLSOptions {
	return sso.TLSOptions{CAFile: cfg.SSO.CAFile, ClientCertFile: cfg.SSO.ClientCertFile, ClientKeyFile: cfg.SSO.ClientKeyFile}
}

// initTLS turns the opened listeners into TLS listeners where tls.* or admin_tls.* name a
// certificate (SPEC section 10). The public listener's TLS sits inside the connection limit,
// so a refused connection costs no handshake.
func (g *Gateway) initTLS() error {
	var err error
	if g.cfg.TLS.Enabled() {
		if g.tls.public, err = certs.New(g.cfg.TLS.CertFile, g.cfg.TLS.KeyFile, g.logger.With("listener", "public")); err != nil {
			return fmt.Errorf("tls.cert_file: %w", err)
		}
		g.publicLn = tls.NewListener(g.publicLn, certs.ServerConfig(g.tls.public, "http/1.1"))
	}
	if g.cfg.AdminTLS.Enabled() {
		if g.tls.admin, err = certs.New(g.cfg.AdminTLS.CertFile, g.cfg.AdminTLS.KeyFile, g.logger.With("listener", "admin")); err != nil {
			return fmt.Errorf("admin_tls.cert_file: %w", err)
		}
		g.adminLn = tls.NewListener(g.adminLn, certs.ServerConfig(g.tls.admin, "http/1.1"))
	}
	return nil
}

// watchCertificates swaps in certificate files that changed on disk until ctx ends.
func (g *Gateway) watchCertificates(ctx context.Context) {
	for _, r := range []*certs.Reloader{g.tls.public, g.tls.admin} {
		if r != nil {
			go r.Watch(ctx, certPollInterval)
		}
	}
}

// reloadCertificates is Reload's part for tls.* and admin_tls.*, run on every reload: the
// files are read again (new paths are switched to) and handshakes from now on get the new
// certificate; open connections keep theirs. Turning TLS on or off needs a restart: it is
// warned about and the running setting stays in cfg, the configuration in effect.
func (g *Gateway) reloadCertificates(was config.Config, cfg *config.Config) error {
	for _, l := range []struct {
		key      string
		r        *certs.Reloader
		was, now *config.TLSConfig
	}{
		{"tls", g.tls.public, &was.TLS, &cfg.TLS},
		{"admin_tls", g.tls.admin, &was.AdminTLS, &cfg.AdminTLS},
	} {
		if (l.r != nil) != l.now.Enabled() {
			g.logger.Warn("reload: changed key needs a restart to take effect; the running value stays",
				"key", l.key, "why", "turning TLS on or off needs a restart")
			*l.now = *l.was
			continue
		}
		if l.r == nil {
			continue
		}
		if err := l.r.Use(l.now.CertFile, l.now.KeyFile); err != nil {
			return fmt.Errorf("%s.cert_file: %w", l.key, err)
		}
		g.logger.Info("tls certificate reloaded", "key", l.key, "not_after", l.r.Current().Leaf.NotAfter)
	}
	return nil
}
