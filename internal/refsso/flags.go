package refsso

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DefaultListen is where `ssogate refsso` listens without --listen: loopback only, since the
// sample accounts are public knowledge.
const DefaultListen = "127.0.0.1:9100"

// ParseFlags reads the flags of `ssogate refsso`. Errors, including flag.ErrHelp for -h, come
// back wrapped with the usage text appended, for the caller to print; it never exits.
//
// --client and --user put secrets on the command line, where other local users can read them;
// acceptable for sample accounts, which is all this server is for.
func ParseFlags(args []string) (cfg Config, listen string, err error) {
	fs := flag.NewFlagSet("refsso", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage text goes into the returned error instead
	clients := pairFlag{kind: "client", m: map[string]string{}}
	users := pairFlag{kind: "user", m: map[string]string{}}

	fs.StringVar(&listen, "listen", DefaultListen, "`address` to listen on")
	fs.StringVar(&cfg.Prefix, "prefix", "/sso", "path `prefix` of every endpoint")
	fs.StringVar(&cfg.Name, "name", "refsso", "`name` of this SSO in the logs")
	fs.IntVar(&cfg.CaptchaAfter, "captcha-after", 3, "consecutive wrong passwords before a captcha is required (negative: never)")
	fs.DurationVar(&cfg.AccessTTL, "access-ttl", 12*time.Hour, "lifetime of access tokens")
	fs.DurationVar(&cfg.RefreshTTL, "refresh-ttl", 30*24*time.Hour, "lifetime of refresh tokens")
	fs.StringVar(&cfg.UsersToken, "users-token", "", "bearer `token` required by GET /users (default: open)")
	fs.Var(&clients, "client", "client as `id:secret`, repeatable; an empty secret makes a public client (default app:app-secret)")
	fs.Var(&users, "user", "user as `name:password`, repeatable (default alice:alice-pass and bob:bob-pass)")

	if err := fs.Parse(args); err != nil {
		return Config{}, "", fmt.Errorf("refsso: %w\n%s", err, usage(fs))
	}
	for _, p := range []*pairFlag{&clients, &users} {
		if p.err != nil {
			return Config{}, "", fmt.Errorf("refsso: --%s: %w", p.kind, p.err)
		}
	}
	if fs.NArg() > 0 {
		return Config{}, "", fmt.Errorf("refsso: unexpected argument %q\n%s", fs.Arg(0), usage(fs))
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return Config{}, "", fmt.Errorf("refsso: --listen %q: %w", listen, err)
	}
	if cfg.CaptchaAfter == 0 {
		// Config reads 0 as "default"; on the command line 0 can only mean "from the first try".
		return Config{}, "", fmt.Errorf("%w: --captcha-after must not be 0", ErrInvalidConfig)
	}
	cfg.Clients = clients.m
	if len(cfg.Clients) == 0 {
		cfg.Clients = map[string]string{"app": "app-secret"}
	}
	cfg.Users = users.m
	if len(cfg.Users) == 0 {
		cfg.Users = map[string]string{"alice": "alice-pass", "bob": "bob-pass"}
	}
	// Report a bad prefix or user now rather than after the caller has opened the listener.
	if _, err := cfg.withDefaults(); err != nil {
		return Config{}, "", err
	}
	return cfg, listen, nil
}

func usage(fs *flag.FlagSet) string {
	var b bytes.Buffer
	fs.SetOutput(&b)
	fmt.Fprintln(&b, "Usage: ssogate refsso [flags]")
	fs.PrintDefaults()
	return b.String()
}

// pairFlag collects repeated name:value flags. Only names are ever printed back: Set keeps its
// error for ParseFlags instead of returning it, because the flag package would quote the whole
// value, secret included, in its message.
type pairFlag struct {
	kind string
	m    map[string]string
	err  error
}

func (p *pairFlag) String() string {
	if p == nil {
		return ""
	}
	return strings.Join(sortedKeys(p.m), ",")
}

func (p *pairFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	switch _, dup := p.m[name]; {
	case p.err != nil:
	case !ok || name == "":
		p.err = errors.New("want name:secret")
	case dup:
		p.err = fmt.Errorf("%q given twice", name)
	default:
		p.m[name] = value
	}
	return nil
}
