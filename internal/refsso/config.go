package refsso

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by every error New and ParseFlags return for a bad Config.
var ErrInvalidConfig = errors.New("refsso: invalid config")

// Config describes one reference SSO; zero values take the defaults noted per field.
type Config struct {
	// Name tells several reference SSOs apart in the logs (the demo runs two).
	Name string
	// Clients maps client_id to secret. An empty secret makes a public client, which may
	// authenticate with client_id alone (SPEC section 2: "the SSO decides").
	Clients map[string]string
	// Users maps username to plain password; New keeps only bcrypt hashes.
	Users map[string]string
	// CaptchaAfter is how many consecutive wrong passwords make a username need a captcha
	// (default 3; negative: never).
	CaptchaAfter int
	// AccessTTL and RefreshTTL default to Spring's DefaultTokenServices values: 12 h and 30 days.
	AccessTTL, RefreshTTL time.Duration
	// Prefix is put before every path, like the seed's "/sso" context path; "" serves at the root.
	Prefix string
	// MaxTokens bounds the live access tokens, and separately the refresh tokens, kept in
	// memory (default 100,000).
	MaxTokens int
	// MaxBodyBytes bounds a request body (default 64 KiB, as the gateway's).
	MaxBodyBytes int64
	// UsersToken, when set, is the bearer token GET /users requires (a directory listing is
	// worth protecting in anything but a demo).
	UsersToken string
	// Logger receives one line per grant; nil discards. Passwords, secrets and tokens are never
	// logged.
	Logger *slog.Logger
}

// withDefaults returns the config with defaults filled in, or every problem found at once.
func (c Config) withDefaults() (Config, error) {
	if c.CaptchaAfter == 0 {
		c.CaptchaAfter = 3
	}
	if c.AccessTTL <= 0 {
		c.AccessTTL = 12 * time.Hour
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 100_000
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	var problems []error
	prefix, err := cleanPrefix(c.Prefix)
	if err != nil {
		problems = append(problems, err)
	}
	c.Prefix = prefix
	if len(c.Clients) == 0 {
		problems = append(problems, errors.New("clients: none configured"))
	}
	for _, id := range sortedKeys(c.Clients) {
		// A Basic header cannot carry an id with a colon (RFC 7617 section 2).
		if id == "" || strings.Contains(id, ":") {
			problems = append(problems, fmt.Errorf("clients[%q]: id must be non-empty and without ':'", id))
		}
	}
	if len(c.Users) == 0 {
		problems = append(problems, errors.New("users: none configured"))
	}
	for _, name := range sortedKeys(c.Users) {
		if name == "" {
			problems = append(problems, errors.New(`users[""]: empty username`))
		}
		// bcrypt ignores everything past 72 bytes; x/crypto refuses such passwords outright.
		if len(c.Users[name]) > 72 {
			problems = append(problems, fmt.Errorf("users[%q]: password longer than 72 bytes", name))
		}
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(problems...))
	}
	return c, nil
}

// cleanPrefix accepts "", "/" or "/seg/seg" and drops a trailing slash. Characters that mean
// something to http.ServeMux patterns ({ } and spaces) are refused rather than escaped.
func cleanPrefix(p string) (string, error) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return p, fmt.Errorf("prefix %q: must start with '/'", p)
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("/-._~", r)
		if !ok {
			return p, fmt.Errorf("prefix %q: only letters, digits and /-._~ allowed", p)
		}
	}
	if strings.Contains(p, "//") {
		return p, fmt.Errorf("prefix %q: empty path segment", p)
	}
	return p, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
