package directory

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ssogate/ssogate/internal/audit"
)

// Namespace separates the usernames of the administrator ("manager") app from those of the
// ordinary apps (SPEC section 2, parameter client).
type Namespace string

const (
	NamespaceUser    Namespace = "user"
	NamespaceManager Namespace = "manager"
)

// NamespaceFor maps the token endpoint's client parameter to a namespace.
func NamespaceFor(client string) Namespace {
	if client == "manager" {
		return NamespaceManager
	}
	return NamespaceUser
}

// Valid reports whether ns is one of the two namespaces.
func (ns Namespace) Valid() bool { return ns == NamespaceUser || ns == NamespaceManager }

// Namespaces lists every namespace, for operations that span them (deleting a cluster).
var Namespaces = []Namespace{NamespaceUser, NamespaceManager}

// Cluster is one deployment: its SSO, its API server and the invite code users type.
type Cluster struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	SSOURL    string `json:"sso_url"`
	ServerURL string `json:"server_url"`
	// TokenURL overrides SSOURL + "/oauth/token" when set.
	TokenURL string `json:"token_url"`
	Enabled  bool   `json:"enabled"`
	// CAFile is a PEM bundle trusted, besides the system's CAs and sso.ca_file, for this
	// cluster's https token URL; ClientCertFile and ClientKeyFile are the client certificate
	// shown to an SSO that demands mutual TLS (SPEC section 4). Paths on the gateway's hosts.
	CAFile         string `json:"ca_file,omitempty"`
	ClientCertFile string `json:"client_cert_file,omitempty"`
	ClientKeyFile  string `json:"client_key_file,omitempty"`
	// Sync, when set, is the cluster's scheduled sync (SPEC section 8).
	Sync *ClusterSync `json:"sync,omitempty"`
}

// EffectiveTokenURL is where token requests for this cluster are forwarded.
func (c Cluster) EffectiveTokenURL() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	return strings.TrimRight(c.SSOURL, "/") + "/oauth/token"
}

// Sentinel errors of the directory. Stores return ErrNotFound for an unknown cluster; the
// Directory turns resolution failures into the typed errors the token endpoint maps to codes.
var (
	ErrNotFound      = errors.New("not found")
	ErrInvalid       = errors.New("invalid")
	ErrUnknownUser   = errors.New("unknown user")    // code 1004
	ErrBadInviteCode = errors.New("bad invite code") // code 1001
	// ErrUnavailable wraps store failures: the answer is unknown, never "no such user".
	ErrUnavailable = errors.New("directory unavailable")
)

// MaxUsernameBytes bounds a username (SPEC section 3).
const MaxUsernameBytes = 256

// NormalizeCode validates a cluster code ([A-Za-z0-9_-]{1,64}, after trimming) and returns it
// upper-cased, the form in which codes are stored and compared.
func NormalizeCode(code string) (string, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return "", fmt.Errorf("cluster code %q: must be 1 to 64 characters: %w", code, ErrInvalid)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "", fmt.Errorf("cluster code %q: only letters, digits, '_' and '-' are allowed: %w", code, ErrInvalid)
		}
	}
	return strings.ToUpper(code), nil
}

// NormalizeUsername trims a username and checks it: at most 256 bytes of valid UTF-8 without
// control characters. With foldCase, the result is lower-cased so lookups ignore case.
func NormalizeUsername(name string, foldCase bool) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("username is empty: %w", ErrInvalid)
	}
	if len(name) > MaxUsernameBytes {
		return "", fmt.Errorf("username is longer than %d bytes: %w", MaxUsernameBytes, ErrInvalid)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("username is not valid UTF-8: %w", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("username contains a control character: %w", ErrInvalid)
		}
	}
	if foldCase {
		name = strings.ToLower(name)
	}
	return name, nil
}

// Validate normalises c in place and reports the first problem, naming the field.
func (c *Cluster) Validate() error {
	code, err := NormalizeCode(c.Code)
	if err != nil {
		return err
	}
	c.Code = code
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return fmt.Errorf("cluster %s: name is required: %w", code, ErrInvalid)
	}
	if err := checkURL("sso_url", c.SSOURL, true); err != nil {
		return fmt.Errorf("cluster %s: %w", code, err)
	}
	if err := checkURL("server_url", c.ServerURL, true); err != nil {
		return fmt.Errorf("cluster %s: %w", code, err)
	}
	if err := checkURL("token_url", c.TokenURL, false); err != nil {
		return fmt.Errorf("cluster %s: %w", code, err)
	}
	if (c.ClientCertFile == "") != (c.ClientKeyFile == "") {
		return fmt.Errorf("cluster %s: client_cert_file and client_key_file must be set together: %w", code, ErrInvalid)
	}
	if c.Sync != nil {
		if err := c.Sync.Validate(); err != nil {
			return fmt.Errorf("cluster %s: %w", code, err)
		}
	}
	return nil
}

func checkURL(field, raw string, required bool) error {
	if raw == "" {
		if required {
			return fmt.Errorf("%s is required: %w", field, ErrInvalid)
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%s %q must be an absolute http(s) URL without credentials: %w", field, audit.RedactURL(raw), ErrInvalid)
	}
	return nil
}
