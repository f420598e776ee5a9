package admin_test

import (
	"context"
	"testing"
)

// SPEC section 4: a cluster's TLS files towards its SSO are part of the admin API's cluster,
// stored with it, and a client certificate without its key is refused.
func TestClusterTLSFields(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "PUT", "/admin/clusters/MTLS", `{"name":"m","sso_url":"https://sso.test/sso","server_url":"https://api.test",`+
		`"ca_file":"/etc/ssogate/ca.pem","client_cert_file":"/etc/ssogate/c.pem","client_key_file":"/etc/ssogate/k.pem"}`).want(t, 201)
	want := map[string]any{"ca_file": "/etc/ssogate/ca.pem", "client_cert_file": "/etc/ssogate/c.pem", "client_key_file": "/etc/ssogate/k.pem"}
	assertCluster(t, r.body, want)
	assertCluster(t, e.do(t, "GET", "/admin/clusters/MTLS", nil).want(t, 200).body, want)
	stored, err := e.store.GetCluster(context.Background(), "MTLS")
	if err != nil || stored.CAFile != "/etc/ssogate/ca.pem" || stored.ClientKeyFile != "/etc/ssogate/k.pem" {
		t.Fatalf("stored cluster %+v, %v", stored, err)
	}
	// Clusters without TLS files render as before (no empty keys).
	e.putCluster(t, "PLAIN", "plain")
	if _, has := e.do(t, "GET", "/admin/clusters/PLAIN", nil).want(t, 200).body["ca_file"]; has {
		t.Error("ca_file rendered for a cluster without one")
	}
	r = e.do(t, "PUT", "/admin/clusters/HALF", `{"name":"h","sso_url":"https://sso.test/sso","server_url":"https://api.test","client_cert_file":"/c.pem"}`).want(t, 400)
	if r.str("error") == "" {
		t.Fatalf("400 without an error word: %s", r.raw)
	}
}
