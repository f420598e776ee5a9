package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Defaults and environment variables of the global flags (SPEC section 5).
const (
	DefaultAdminURL = "http://127.0.0.1:9001"
	EnvAdminURL     = "SSOGATE_ADMIN_URL"
	EnvAdminToken   = "SSOGATE_ADMIN_TOKEN"
)

// Exit codes of Run.
const (
	ExitOK    = 0
	ExitError = 1 // the API refused or could not be reached
	ExitUsage = 2
)

// stdin is where "import CODE -" reads; a variable so that tests can replace it.
var stdin io.Reader = os.Stdin

const usageText = `usage:
` + lockoutUsage + `  ssogate cluster list
  ssogate cluster get CODE
  ssogate cluster put CODE --name N --sso-url U --server-url U [--token-url U] [--disabled]
                   [--sync-url U [--sync-interval D] [--sync-header-name H --sync-header-env VAR]]
  ssogate cluster rm CODE
  ssogate user bind CODE USER     [--manager]
  ssogate user unbind CODE USER   [--manager]
  ssogate user lookup USER        [--manager]
  ssogate user list CODE          [--manager]
  ssogate user import CODE FILE   [--manager]   (FILE: one username a line, "-" for stdin)
  ssogate user sync CODE FILE     [--dry-run] [--max-removals N] [--manager]
                                  (FILE is the complete list: the cluster's bindings become it)
  ssogate audit [--actor A] [--action X] [--cluster C] [--limit N]   (newest first, default 50)

global flags (anywhere on the line):
  --admin-url URL     admin API address (default ` + DefaultAdminURL + `, env ` + EnvAdminURL + `)
  --admin-token TOKEN admin bearer token (env ` + EnvAdminToken + `)
  --manager           use the manager app's namespace (user commands)
`

// command is one subcommand: its positional arguments and which flags it takes.
type command struct {
	args    []string // names of the positional arguments, for the usage line
	manager bool     // takes --manager
	cluster bool     // takes the cluster fields (put)
	run     func(c *client, f *flags, pos []string) error
	audit   bool // takes the audit filters
	lockout bool // takes --user and --ip (lockout.go)
	// reconcile takes --dry-run and --max-removals (user sync).
	reconcile bool
}

var commands = map[string]map[string]command{
	"cluster": {
		"list": {run: clusterList},
		"get":  {args: []string{"CODE"}, run: clusterGet},
		"put":  {args: []string{"CODE"}, cluster: true, run: clusterPut},
		"rm":   {args: []string{"CODE"}, run: clusterRm},
	},
	"audit": {"": {audit: true, run: auditList}},
	"user": {
		"bind":   {args: []string{"CODE", "USER"}, manager: true, run: userBind},
		"unbind": {args: []string{"CODE", "USER"}, manager: true, run: userUnbind},
		"lookup": {args: []string{"USER"}, manager: true, run: userLookup},
		"list":   {args: []string{"CODE"}, manager: true, run: userList},
		"import": {args: []string{"CODE", "FILE"}, manager: true, run: userImport},
		"sync":   {args: []string{"CODE", "FILE"}, manager: true, reconcile: true, run: userSync},
	},
}

// flags holds every flag value; a command registers only those it takes.
type flags struct {
	adminURL, adminToken              string
	manager                           bool
	name, ssoURL, serverURL, tokenURL string
	disabled                          bool
	actor, action, cluster            string
	limit                             int
	user, ip                          string // lockout commands
	// Scheduled sync of cluster put, and the reconcile flags of user sync.
	syncURL, syncInterval, syncHeaderName, syncHeaderEnv string
	dryRun                                               bool
	maxRemovals                                          string
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// Run executes a "cluster" or "user" subcommand; args starts at that word. It returns the
// process exit code: 0 on success, 1 when the API refused or could not be reached (its
// message on stderr), 2 for a usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return ExitOK
	}
	if args[0] == "audit" {
		args = append([]string{"audit", ""}, args[1:]...) // a command without subcommands
	}
	group, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ssogate: unknown command %q\n%s", args[0], usageText)
		return ExitUsage
	}
	if len(args) < 2 {
		fmt.Fprintf(stderr, "ssogate %s: missing subcommand\n%s", args[0], usageText)
		return ExitUsage
	}
	cmd, ok := group[args[1]]
	if !ok {
		fmt.Fprintf(stderr, "ssogate %s: unknown subcommand %q\n%s", args[0], args[1], usageText)
		return ExitUsage
	}
	name := strings.TrimSpace(args[0] + " " + args[1])
	f, pos, err := parse(name, cmd, args[2:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return ExitOK
	}
	if err == nil && len(pos) != len(cmd.args) {
		err = usagef("%s takes %s, got %d argument(s)", name, strings.Join(cmd.args, " "), len(pos))
	}
	if err == nil {
		f.applyEnv(getenv)
		var c *client
		if c, err = newClient(ctx, f.adminURL, f.adminToken, stdout); err == nil {
			c.errOut = stderr
			err = cmd.run(c, f, pos)
		}
	}
	return report(name, err, stderr)
}

func report(name string, err error, stderr io.Writer) int {
	var ue *usageError
	var ae *apiError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ssogate %s: %s\n%s", name, ue.msg, usageText)
		return ExitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "ssogate %s: %s\n", name, ae.Error())
		if ae.Status == http.StatusUnauthorized {
			fmt.Fprintf(stderr, "hint: pass --admin-token or set %s\n", EnvAdminToken)
		}
		return ExitError
	default:
		fmt.Fprintf(stderr, "ssogate %s: %v\n", name, err)
		return ExitError
	}
}

// parse reads the command's flags wherever they appear: operators type
// "user bind X alice --manager" as often as "user bind --manager X alice". Arguments after
// "--" are positional even when they start with '-'.
func parse(name string, cmd command, args []string) (*flags, []string, error) {
	f := &flags{}
	fs := flag.NewFlagSet("ssogate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Run, with the usage text
	// Defaults stay empty here so that a token from the environment never shows in usage.
	fs.StringVar(&f.adminURL, "admin-url", "", "admin API address")
	fs.StringVar(&f.adminToken, "admin-token", "", "admin bearer token")
	if cmd.manager {
		fs.BoolVar(&f.manager, "manager", false, "manager namespace")
	}
	if cmd.cluster {
		fs.StringVar(&f.name, "name", "", "display name")
		fs.StringVar(&f.ssoURL, "sso-url", "", "SSO base URL")
		fs.StringVar(&f.serverURL, "server-url", "", "API server URL")
		fs.StringVar(&f.tokenURL, "token-url", "", "token URL (default SSO URL + /oauth/token)")
		fs.BoolVar(&f.disabled, "disabled", false, "register the cluster disabled")
		fs.StringVar(&f.syncURL, "sync-url", "", "scheduled sync: URL of the complete user list")
		fs.StringVar(&f.syncInterval, "sync-interval", "", "scheduled sync: interval (default 15m)")
		fs.StringVar(&f.syncHeaderName, "sync-header-name", "", "scheduled sync: request header name")
		fs.StringVar(&f.syncHeaderEnv, "sync-header-env", "", "scheduled sync: environment variable holding the header value")
	}
	if cmd.reconcile {
		fs.BoolVar(&f.dryRun, "dry-run", false, "report what would change, change nothing")
		fs.StringVar(&f.maxRemovals, "max-removals", "", "refuse when more bindings would be removed (default 1000, -1 no limit)")
	}
	if cmd.audit {
		fs.StringVar(&f.actor, "actor", "", "only changes by this actor")
		fs.StringVar(&f.action, "action", "", "only this action (cluster.put, user.bind…)")
		fs.StringVar(&f.cluster, "cluster", "", "only changes of this cluster")
		fs.IntVar(&f.limit, "limit", 50, "at most this many entries")
	}
	if cmd.lockout {
		fs.StringVar(&f.user, "user", "", "username")
		fs.StringVar(&f.ip, "ip", "", "client IP address")
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, err
			}
			return nil, nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return f, pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return f, append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (f *flags) applyEnv(getenv func(string) string) {
	if f.adminURL == "" {
		f.adminURL = getenv(EnvAdminURL)
	}
	if f.adminURL == "" {
		f.adminURL = DefaultAdminURL
	}
	if f.adminToken == "" {
		f.adminToken = getenv(EnvAdminToken)
	}
}

// namespaceLabel names the namespace in messages.
func (f *flags) namespaceLabel() string {
	if f.manager {
		return "manager namespace"
	}
	return "user namespace"
}
