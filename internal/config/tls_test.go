package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ssogate/ssogate/internal/certs/certtest"
)

// SPEC section 6: a bad TLS setting stops the start with a message naming its key.
func TestValidateTLS(t *testing.T) {
	ca := certtest.NewCA(t, "CA")
	leaf, other := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	tests := []struct {
		name     string
		mutate   func(*Config)
		wantKeys []string // nil: valid
	}{
		{name: "plain HTTP by default", mutate: func(*Config) {}},
		{name: "both listeners with certificates", mutate: func(c *Config) {
			c.TLS = TLSConfig{leaf.CertFile, leaf.KeyFile}
			c.AdminTLS = TLSConfig{other.CertFile, other.KeyFile}
		}},
		{name: "key without certificate", mutate: func(c *Config) { c.TLS.KeyFile = leaf.KeyFile },
			wantKeys: []string{"tls.cert_file"}},
		{name: "certificate without key", mutate: func(c *Config) { c.AdminTLS.CertFile = leaf.CertFile },
			wantKeys: []string{"admin_tls.key_file"}},
		// Every handshake would fail: refuse to start instead.
		{name: "mismatched pair", mutate: func(c *Config) { c.TLS = TLSConfig{leaf.CertFile, other.KeyFile} },
			wantKeys: []string{"tls.cert_file"}},
		{name: "missing file", mutate: func(c *Config) { c.AdminTLS = TLSConfig{leaf.CertFile + ".gone", leaf.KeyFile} },
			wantKeys: []string{"admin_tls.cert_file"}},
		{name: "sso bundle and client pair", mutate: func(c *Config) {
			c.SSO.CAFile, c.SSO.ClientCertFile, c.SSO.ClientKeyFile = ca.File, leaf.CertFile, leaf.KeyFile
		}},
		{name: "sso bundle that is not PEM", mutate: func(c *Config) { c.SSO.CAFile = leaf.KeyFile + ".gone" },
			wantKeys: []string{"sso.ca_file"}},
		{name: "sso client key alone", mutate: func(c *Config) { c.SSO.ClientKeyFile = leaf.KeyFile },
			wantKeys: []string{"sso.client_cert_file"}},
		{name: "cluster files", mutate: func(c *Config) {
			a, b := cluster("A"), cluster("B")
			a.CAFile = ca.File
			b.CAFile, b.ClientCertFile = "/nonexistent/ca.pem", leaf.CertFile
			c.Clusters = Clusters{a, b}
		}, wantKeys: []string{"clusters[1].ca_file", "clusters[1].client_key_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantKeys == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid", err)
			}
			if got := errorKeys(t, err); !reflect.DeepEqual(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q\n%v", got, tt.wantKeys, err)
			}
		})
	}
}

// The file and the environment both set the TLS keys; a cluster's TLS files round-trip
// through the file's clusters list.
func TestLoadTLSKeys(t *testing.T) {
	ca := certtest.NewCA(t, "CA")
	leaf := ca.Issue(t, certtest.Options{})
	path := filepath.Join(t.TempDir(), "ssogate.yaml")
	yaml := "tls:\n  cert_file: " + leaf.CertFile + "\n  key_file: " + leaf.KeyFile + "\n" +
		"clusters:\n  - {code: a, name: A, sso_url: 'https://h/sso', server_url: 'https://h', ca_file: " + ca.File + "}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{"SSOGATE_ADMIN_TLS_CERT_FILE=" + leaf.CertFile, "SSOGATE_ADMIN_TLS_KEY_FILE=" + leaf.KeyFile, "SSOGATE_SSO_CA_FILE=" + ca.File})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CertFile != leaf.CertFile || cfg.AdminTLS.KeyFile != leaf.KeyFile || cfg.SSO.CAFile != ca.File || cfg.Clusters[0].CAFile != ca.File {
		t.Fatalf("loaded %+v", cfg)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "ca_file: "+ca.File) || !strings.Contains(string(out), "admin_tls:") {
		t.Fatalf("--check-config output lacks the TLS keys:\n%s", out)
	}
}
