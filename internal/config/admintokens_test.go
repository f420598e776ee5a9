package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/directory"
)

const goodDigest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestAdminTokensValidate(t *testing.T) {
	tests := []struct {
		name     string
		tokens   []AdminToken
		wantKeys []string
	}{
		{"valid", []AdminToken{{Name: "ops", TokenSHA256: goodDigest, Scope: "admin"},
			{Name: "b", TokenSHA256: strings.ToUpper(goodDigest[:63]) + "9", Scope: "cluster:bjedu"}}, nil},
		{"missing name", []AdminToken{{TokenSHA256: goodDigest, Scope: "admin"}}, []string{"admin_tokens[0].name"}},
		// "sync" and "config" are the actors of the scheduled sync and the config (SPEC 9).
		{"reserved name", []AdminToken{{Name: "sync", TokenSHA256: goodDigest, Scope: "admin"}}, []string{"admin_tokens[0].name"}},
		{"duplicate name", []AdminToken{{Name: "a", TokenSHA256: goodDigest, Scope: "admin"},
			{Name: "a", TokenSHA256: strings.Repeat("0", 64), Scope: "admin"}}, []string{"admin_tokens[1].name"}},
		{"short digest", []AdminToken{{Name: "a", TokenSHA256: "abc", Scope: "admin"}}, []string{"admin_tokens[0].token_sha256"}},
		{"not hex", []AdminToken{{Name: "a", TokenSHA256: strings.Repeat("z", 64), Scope: "admin"}}, []string{"admin_tokens[0].token_sha256"}},
		{"same token twice", []AdminToken{{Name: "a", TokenSHA256: goodDigest, Scope: "admin"},
			{Name: "b", TokenSHA256: goodDigest, Scope: "cluster:A"}}, []string{"admin_tokens[1].token_sha256"}},
		{"bad scope", []AdminToken{{Name: "a", TokenSHA256: goodDigest, Scope: "root"}}, []string{"admin_tokens[0].scope"}},
		{"bad cluster code", []AdminToken{{Name: "a", TokenSHA256: goodDigest, Scope: "cluster:a b"}}, []string{"admin_tokens[0].scope"}},
		{"empty cluster code", []AdminToken{{Name: "a", TokenSHA256: goodDigest, Scope: "cluster:"}}, []string{"admin_tokens[0].scope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.AdminTokens = tc.tokens
			err := c.Validate()
			var keys []string
			for _, e := range unwrapAll(err) {
				var fe *FieldError
				if errors.As(e, &fe) {
					keys = append(keys, fe.Key)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.wantKeys, ",") {
				t.Fatalf("problem keys = %q, want %q (err %v)", keys, tc.wantKeys, err)
			}
			if err != nil && strings.Contains(err.Error(), goodDigest) {
				t.Fatal("the error echoes a token digest")
			}
		})
	}
	c := Default()
	c.AdminTokens = []AdminToken{{Name: " b ", TokenSHA256: " " + strings.ToUpper(goodDigest), Scope: "cluster:bjedu"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.AdminTokens[0]; got.Scope != "cluster:BJEDU" || got.Name != "b" || got.TokenSHA256 != goodDigest {
		t.Fatalf("normalised = %+v", got)
	}
}

func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestLoadAdminTokensAndClusterSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `admin_tokens:
  - {name: backend, token_sha256: ` + goodDigest + `, scope: "cluster:A"}
clusters:
  - code: A
    name: a
    sso_url: http://h/sso
    server_url: http://h
    sync: {url: "http://h/sso/users", interval: 5m, header_name: Authorization, header_value_env: A_AUTH}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := directory.ClusterSync{URL: "http://h/sso/users", Interval: directory.Duration(5 * time.Minute),
		HeaderName: "Authorization", HeaderValueEnv: "A_AUTH"}
	if len(c.Clusters) != 1 || c.Clusters[0].Sync == nil || *c.Clusters[0].Sync != want {
		t.Fatalf("clusters = %+v", c.Clusters)
	}
	if len(c.AdminTokens) != 1 || c.AdminTokens[0].Scope != "cluster:A" {
		t.Fatalf("admin_tokens = %+v", c.AdminTokens)
	}
	// Bad sync settings name their key.
	bad := strings.Replace(yaml, "interval: 5m", "interval: 1ms", 1)
	bad = strings.Replace(bad, `url: "http://h/sso/users"`, `url: "ftp://h"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path, nil)
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "clusters[0].sync.url") || !strings.Contains(err.Error(), "clusters[0].sync.interval") {
		t.Fatalf("bad sync: %v", err)
	}
	// An unknown key inside sync is refused.
	if err := os.WriteFile(path, []byte(strings.Replace(yaml, "interval: 5m", "every: 5m", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "every") {
		t.Fatalf("unknown sync key: %v", err)
	}
}
