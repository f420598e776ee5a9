package refsso

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // in the error text
	}{
		{name: "no clients", modify: func(c *Config) { c.Clients = nil }, want: "clients: none"},
		{name: "no users", modify: func(c *Config) { c.Users = nil }, want: "users: none"},
		{name: "empty username", modify: func(c *Config) { c.Users[""] = "x" }, want: `users[""]`},
		// A Basic header cannot carry such an id (RFC 7617).
		{name: "colon in client id", modify: func(c *Config) { c.Clients["a:b"] = "x" }, want: `clients["a:b"]`},
		// bcrypt would silently ignore the tail.
		{name: "password over 72 bytes", modify: func(c *Config) { c.Users["long"] = strings.Repeat("x", 73) }, want: "72 bytes"},
		{name: "relative prefix", modify: func(c *Config) { c.Prefix = "sso" }, want: "must start with '/'"},
		// ServeMux would read braces as a wildcard.
		{name: "pattern characters in prefix", modify: func(c *Config) { c.Prefix = "/{x}" }, want: "only letters"},
		{name: "empty segment in prefix", modify: func(c *Config) { c.Prefix = "/a//b" }, want: "empty path segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.modify(&cfg)
			_, err := New(cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(Config{Prefix: "x"})
	for _, want := range []string{"clients: none", "users: none", "prefix"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want it to mention %q", err, want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	cfg := testConfig()
	cfg.Prefix = "/sso/"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != "/sso" || s.accessTTL != 12*time.Hour || s.refreshTTL != 30*24*time.Hour ||
		s.maxBodyBytes != 64<<10 || s.logins.after != 3 {
		t.Fatalf("defaults not applied: prefix %q access %v refresh %v body %d captcha %d",
			s.prefix, s.accessTTL, s.refreshTTL, s.maxBodyBytes, s.logins.after)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, cfg Config, listen string)
		wantErr string // empty: no error
	}{
		{
			name: "defaults",
			args: nil,
			check: func(t *testing.T, cfg Config, listen string) {
				if listen != "127.0.0.1:9100" || cfg.Prefix != "/sso" || cfg.CaptchaAfter != 3 {
					t.Errorf("listen %q prefix %q captcha-after %d", listen, cfg.Prefix, cfg.CaptchaAfter)
				}
				if cfg.Clients["app"] != "app-secret" || len(cfg.Clients) != 1 {
					t.Errorf("clients = %v", cfg.Clients)
				}
				if len(cfg.Users) < 2 {
					t.Errorf("users = %v, want some samples", cfg.Users)
				}
			},
		},
		{
			name: "everything set",
			args: []string{"--listen", ":0", "--prefix", "/auth", "--name", "sso-b", "--captcha-after", "5",
				"--client", "web:s3cret", "--client", "mobile:", "--user", "zed:p:w", "--access-ttl", "1h"},
			check: func(t *testing.T, cfg Config, listen string) {
				if listen != ":0" || cfg.Prefix != "/auth" || cfg.Name != "sso-b" || cfg.CaptchaAfter != 5 || cfg.AccessTTL != time.Hour {
					t.Errorf("got %+v listen %q", cfg, listen)
				}
				// Repeated --client replaces the default rather than adding to it.
				if len(cfg.Clients) != 2 || cfg.Clients["web"] != "s3cret" || cfg.Clients["mobile"] != "" {
					t.Errorf("clients = %v", cfg.Clients)
				}
				// Only the first colon splits: passwords may contain colons.
				if len(cfg.Users) != 1 || cfg.Users["zed"] != "p:w" {
					t.Errorf("users = %v", cfg.Users)
				}
			},
		},
		{name: "client without colon", args: []string{"--client", "web"}, wantErr: "--client: want name:secret"},
		{name: "user with empty name", args: []string{"--user", ":pw"}, wantErr: "--user: want name:secret"},
		{name: "client twice", args: []string{"--client", "a:1", "--client", "a:2"}, wantErr: `"a" given twice`},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "flag provided but not defined"},
		{name: "positional argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "bad listen", args: []string{"--listen", "nowhere"}, wantErr: "--listen"},
		{name: "zero captcha-after", args: []string{"--captcha-after", "0"}, wantErr: "must not be 0"},
		{name: "bad prefix", args: []string{"--prefix", "sso"}, wantErr: "must start with '/'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, listen, err := ParseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg, listen)
			if _, err := New(cfg); err != nil {
				t.Fatalf("New(ParseFlags(...)): %v", err)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	_, _, err := ParseFlags([]string{"-h"})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "-captcha-after") {
		t.Fatalf("err = %v, want ErrHelp with usage", err)
	}
}

// A mistyped --client must not print its secret back (the flag package quotes bad values).
func TestParseFlagsHidesSecrets(t *testing.T) {
	_, _, err := ParseFlags([]string{"--client", "a:topsecret", "--client", "a:topsecret"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v, want an error without the secret", err)
	}
}
