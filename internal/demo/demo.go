package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/gateway"
	"github.com/ssogate/ssogate/internal/refsso"
)

// Options choose the demo's addresses; zero values take the defaults.
type Options struct {
	Listen      string // gateway, default ":9000"
	AdminListen string // default "127.0.0.1:9001"
	AdminToken  string // default "demo"
	DataDir     string // default a fresh temporary directory, removed at exit
	Logger      *slog.Logger
	// Ready, when set, is called once everything listens (tests).
	Ready func(gatewayAddr, adminAddr string)
}

// The demo's client and users, shown in its printed walk-through.
const (
	ClientID     = "app"
	ClientSecret = "app-secret"
)

type ssoSpec struct {
	code, name string
	users      map[string]string
	sync       bool // the cluster syncs its bindings from the SSO's GET /sso/users
}

// SyncInterval is how often the demo's BJEDU cluster syncs from its SSO.
const SyncInterval = 30 * time.Second

var ssos = []ssoSpec{
	{code: "TEST0525", name: "测试用", users: map[string]string{"alice": "alice-pass", "carol": "carol-pass", "admin": "admin-pass"}},
	// BJEDU's bindings come from its SSO's user list by a scheduled sync (SPEC section 8):
	// erin is bound by nobody but the sync.
	{code: "BJEDU", name: "北京市教委环境", users: map[string]string{"carol": "carol-pass", "dave": "dave-pass", "erin": "erin-pass"}, sync: true},
}

// bindings: namespace, username, cluster.
var bindings = []struct {
	ns         directory.Namespace
	user, code string
}{
	{directory.NamespaceUser, "alice", "TEST0525"},
	{directory.NamespaceUser, "carol", "TEST0525"},
	{directory.NamespaceUser, "carol", "BJEDU"},
	{directory.NamespaceUser, "dave", "BJEDU"},
	{directory.NamespaceManager, "admin", "TEST0525"},
}

// Run starts everything, prints the walk-through to out and serves until ctx ends.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	if opts.Listen == "" {
		opts.Listen = ":9000"
	}
	if opts.AdminListen == "" {
		opts.AdminListen = "127.0.0.1:9001"
	}
	if opts.AdminToken == "" {
		opts.AdminToken = "demo"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "ssogate-demo-")
		if err != nil {
			return fmt.Errorf("demo data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.DataDir = dir
	}

	cfg := config.Default()
	cfg.Listen = opts.Listen
	cfg.AdminListen = opts.AdminListen
	cfg.AdminToken = opts.AdminToken
	cfg.Store.Path = filepath.Join(opts.DataDir, "ssogate.db")
	cfg.ShutdownTimeout = 5 * time.Second
	for _, s := range ssos {
		srv, addr, err := startSSO(s, opts.Logger)
		if err != nil {
			return err
		}
		defer srv.Close()
		c := directory.Cluster{
			Code: s.code, Name: s.name, Enabled: true,
			SSOURL:    "http://" + addr + "/sso",
			ServerURL: "http://" + addr + "/server",
		}
		if s.sync {
			c.Sync = &directory.ClusterSync{URL: c.SSOURL + "/users", Interval: directory.Duration(SyncInterval)}
		}
		cfg.Clusters = append(cfg.Clusters, c)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: opts.Logger})
	if err != nil {
		return err
	}
	defer g.Close()
	for _, b := range bindings {
		if err := g.Directory().Bind(ctx, b.ns, b.user, b.code); err != nil {
			return fmt.Errorf("demo binding: %w", err)
		}
	}
	printWalkthrough(out, g.PublicAddr(), g.AdminAddr(), cfg)
	if opts.Ready != nil {
		opts.Ready(g.PublicAddr(), g.AdminAddr())
	}
	return g.Run(ctx)
}

func startSSO(s ssoSpec, logger *slog.Logger) (*http.Server, string, error) {
	rs, err := refsso.New(refsso.Config{
		Name: s.code, Prefix: "/sso", Users: s.users,
		Clients: map[string]string{ClientID: ClientSecret},
		Logger:  logger,
	})
	if err != nil {
		return nil, "", fmt.Errorf("demo sso %s: %w", s.code, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("demo sso %s: %w", s.code, err)
	}
	srv := &http.Server{Handler: rs.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("demo sso stopped", "cluster", s.code, "err", err)
		}
	}()
	return srv, ln.Addr().String(), nil
}

func printWalkthrough(out io.Writer, publicAddr, adminAddr string, cfg config.Config) {
	base := "http://" + loopback(publicAddr) + "/oauth/token"
	curl := func(params ...string) string {
		var b strings.Builder
		b.WriteString("curl -s -u " + ClientID + ":" + ClientSecret)
		for _, p := range params {
			b.WriteString(" -d '" + p + "'")
		}
		b.WriteString(" " + base)
		return b.String()
	}
	sso0 := cfg.Clusters[0].SSOURL
	fmt.Fprintf(out, `ssogate demo is running.
  gateway   %s
  admin API http://%s  (token: %s)
  clusters  TEST0525 测试用 → %s
            BJEDU 北京市教委环境 → %s
  users     alice (TEST0525), carol (TEST0525 and BJEDU), dave and erin (BJEDU, by scheduled sync), manager admin (TEST0525)
            passwords are <name>-pass; client %s:%s

Try it:
# 200: alice is bound to one cluster and logs in directly
%s
# 1000: carol is bound to two clusters and must choose
%s
# 200: carol chooses with her invite code (case-insensitive)
%s
# 1001: an invite code alice is not bound to
%s
# 1002: wrong password (the SSO's error passed through)
%s
# 1002 with error_description 2001: after 3 wrong passwords the SSO wants a captcha; read it and send it as code
curl -s '%s/captcha?username=alice'
%s
# 1004: no such user
%s
# 200: the manager app's namespace
%s
# admin CLI
SSOGATE_ADMIN_URL=http://%s SSOGATE_ADMIN_TOKEN=%s go run ./cmd/ssogate cluster list
# scheduled sync: BJEDU's bindings follow its SSO's user list (%s/users, every %s);
# erin was bound by the sync alone, and its status is one call away
%s
curl -s -H 'Authorization: Bearer %s' http://%s/admin/clusters/BJEDU/sync

Press Ctrl-C to stop.
`, base, adminAddr, cfg.AdminToken, cfg.Clusters[0].SSOURL, cfg.Clusters[1].SSOURL, ClientID, ClientSecret,
		curl("grant_type=password", "username=alice", "password=alice-pass"),
		curl("grant_type=password", "username=carol", "password=carol-pass"),
		curl("grant_type=password", "username=carol", "password=carol-pass", "clusterCode=bjedu"),
		curl("grant_type=password", "username=alice", "password=alice-pass", "clusterCode=BJEDU"),
		curl("grant_type=password", "username=alice", "password=wrong"),
		sso0,
		curl("grant_type=password", "username=alice", "password=alice-pass", "code=<captcha>"),
		curl("grant_type=password", "username=nobody", "password=x"),
		curl("grant_type=password", "username=admin", "password=admin-pass", "client=manager"),
		adminAddr, cfg.AdminToken,
		cfg.Clusters[1].SSOURL, SyncInterval,
		curl("grant_type=password", "username=erin", "password=erin-pass"),
		cfg.AdminToken, adminAddr)
}

// loopback turns ":9000" into "127.0.0.1:9000" for printed commands.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return "127.0.0.1:" + port
	}
	return addr
}
