package directory

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ClusterSync is a cluster's scheduled sync (SPEC section 8): every Interval the gateway
// fetches the complete list of the cluster's usernames from URL (plain text, one a line, or
// a JSON array of strings) and reconciles the user namespace with it.
type ClusterSync struct {
	URL      string   `json:"url"`
	Interval Duration `json:"interval"`
	// HeaderName and HeaderValueEnv add one request header whose value is read from the
	// named environment variable, so the secret never sits in the store or the config file.
	HeaderName     string `json:"header_name,omitempty"`
	HeaderValueEnv string `json:"header_value_env,omitempty"`
}

// MinSyncInterval bounds how often a source may be fetched.
const MinSyncInterval = time.Second

// Validate checks the fields, naming each.
func (s *ClusterSync) Validate() error {
	s.URL = strings.TrimSpace(s.URL)
	if err := checkURL("sync.url", s.URL, true); err != nil {
		return err
	}
	if time.Duration(s.Interval) < MinSyncInterval {
		return fmt.Errorf("sync.interval must be at least %s, got %s: %w", MinSyncInterval, time.Duration(s.Interval), ErrInvalid)
	}
	s.HeaderName = strings.TrimSpace(s.HeaderName)
	if s.HeaderName != "" && !validHeaderName(s.HeaderName) {
		return fmt.Errorf("sync.header_name %q is not a valid HTTP header name: %w", s.HeaderName, ErrInvalid)
	}
	if (s.HeaderName == "") != (s.HeaderValueEnv == "") {
		return fmt.Errorf("sync.header_name and sync.header_value_env go together: %w", ErrInvalid)
	}
	return nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// Duration is a time.Duration written in JSON as a Go duration string ("5m", "1h30m"); a
// number is read as seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("a duration such as \"5m\" is required")
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	*d = Duration(v)
	return nil
}
