package sso_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/certs/certtest"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refsso"
	"github.com/ssogate/ssogate/internal/sso"
)

// tlsSSO serves the reference SSO over TLS with cert; clientCAs, when set, demands a client
// certificate signed by it (mutual TLS).
func tlsSSO(t *testing.T, cert *certtest.Leaf, clientCAs *certtest.CA) string {
	t.Helper()
	return tlsSSOMax(t, cert, clientCAs, 0)
}

// tlsSSOMax is tlsSSO with a highest TLS version (0: the default, TLS 1.3).
func tlsSSOMax(t *testing.T, cert *certtest.Leaf, clientCAs *certtest.CA, maxVersion uint16) string {
	t.Helper()
	rs, err := refsso.New(refsso.Config{
		Name: "tls", Prefix: "/sso", Users: map[string]string{"alice": "pw"},
		Clients: map[string]string{"app": "app-secret"}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rs.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}, MinVersion: tls.VersionTLS12, MaxVersion: maxVersion}
	if clientCAs != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCAs.Pool()
	}
	srv.Config.ErrorLog = slogDiscard()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func login(t *testing.T, f *sso.Forwarder, c *directory.Cluster) (int, string, error) {
	t.Helper()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	err := f.Forward(c, &sso.Call{
		Body:          []byte("grant_type=password&username=alice&password=pw"),
		Authorization: []byte("Basic YXBwOmFwcC1zZWNyZXQ="), // app:app-secret
	}, resp)
	return resp.StatusCode(), string(resp.Body()), err
}

func TestHTTPSTokenURLs(t *testing.T) {
	ca := certtest.NewCA(t, "SSO CA")
	other := certtest.NewCA(t, "some other CA")
	clientCA := certtest.NewCA(t, "client CA")
	good := ca.Issue(t, certtest.Options{})
	expired := ca.Issue(t, certtest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	client := clientCA.Issue(t, certtest.Options{CommonName: "ssogate", Client: true})
	strangerClient := other.Issue(t, certtest.Options{CommonName: "stranger", Client: true})

	plainURL := tlsSSO(t, good, nil)
	expiredURL := tlsSSO(t, expired, nil)
	mtlsURL := tlsSSO(t, good, clientCA)
	// With TLS 1.2 the SSO refuses a client certificate inside the handshake; with 1.3 after it.
	mtls12URL := tlsSSOMax(t, good, clientCA, tls.VersionTLS12)

	tests := []struct {
		name    string
		url     string
		opts    sso.TLSOptions
		cluster func(*directory.Cluster)
		// wantReason empty: the SSO answers 200 with a token.
		wantReason string
	}{
		{name: "trusted through sso.ca_file", url: plainURL, opts: sso.TLSOptions{CAFile: ca.File}},
		{name: "trusted through the cluster's ca_file", url: plainURL, cluster: func(c *directory.Cluster) { c.CAFile = ca.File }},
		{name: "both bundles add up", url: plainURL, opts: sso.TLSOptions{CAFile: other.File}, cluster: func(c *directory.Cluster) { c.CAFile = ca.File }},
		// Only the system's CAs: a private CA's certificate is refused.
		{name: "unknown authority", url: plainURL, wantReason: "unknown authority"},
		{name: "another CA's bundle does not help", url: plainURL, opts: sso.TLSOptions{CAFile: other.File}, wantReason: "unknown authority"},
		{name: "expired certificate", url: expiredURL, opts: sso.TLSOptions{CAFile: ca.File}, wantReason: "expired"},
		{name: "missing ca_file", url: plainURL, cluster: func(c *directory.Cluster) { c.CAFile = ca.File + ".gone" }, wantReason: "tls configuration"},
		{name: "mutual TLS with the gateway's client certificate", url: mtlsURL,
			opts: sso.TLSOptions{CAFile: ca.File, ClientCertFile: client.CertFile, ClientKeyFile: client.KeyFile}},
		{name: "mutual TLS with the cluster's client certificate", url: mtlsURL,
			opts:    sso.TLSOptions{CAFile: ca.File, ClientCertFile: strangerClient.CertFile, ClientKeyFile: strangerClient.KeyFile},
			cluster: func(c *directory.Cluster) { c.ClientCertFile, c.ClientKeyFile = client.CertFile, client.KeyFile }},
		{name: "mutual TLS without a client certificate", url: mtlsURL, opts: sso.TLSOptions{CAFile: ca.File}, wantReason: "refused the handshake"},
		{name: "TLS 1.2 mutual TLS with the gateway's client certificate", url: mtls12URL,
			opts: sso.TLSOptions{CAFile: ca.File, ClientCertFile: client.CertFile, ClientKeyFile: client.KeyFile}},
		{name: "TLS 1.2 mutual TLS without a client certificate", url: mtls12URL, opts: sso.TLSOptions{CAFile: ca.File}, wantReason: "refused the handshake"},
		{name: "mutual TLS with a certificate the SSO does not trust", url: mtlsURL,
			opts: sso.TLSOptions{CAFile: ca.File, ClientCertFile: strangerClient.CertFile, ClientKeyFile: strangerClient.KeyFile}, wantReason: "refused the handshake"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sso.New(sso.Options{TLS: tc.opts, Timeout: 5 * time.Second})
			defer f.CloseIdleConnections()
			c := &directory.Cluster{Code: "TLS", Name: "tls", SSOURL: tc.url + "/sso", ServerURL: tc.url, Enabled: true}
			if tc.cluster != nil {
				tc.cluster(c)
			}
			status, body, err := login(t, f, c)
			if tc.wantReason == "" {
				if err != nil || status != 200 || !strings.Contains(body, "access_token") {
					t.Fatalf("login over TLS: status %d, err %v, body %q", status, err, body)
				}
				return
			}
			var u *sso.Unavailable
			if !errors.As(err, &u) {
				t.Fatalf("want *sso.Unavailable (%s), got status %d err %v", tc.wantReason, status, err)
			}
			if !strings.Contains(u.Reason, tc.wantReason) || u.Cluster != "TLS" {
				t.Fatalf("reason %q of cluster %s, want it to say %q (err %v)", u.Reason, u.Cluster, tc.wantReason, err)
			}
		})
	}
}

// A cluster whose ca_file changes (PUT in the admin API) gets a new client, so the fix of
// a wrong bundle takes effect without a restart.
func TestChangedCAFileTakesEffect(t *testing.T) {
	ca := certtest.NewCA(t, "SSO CA")
	other := certtest.NewCA(t, "some other CA")
	url := tlsSSO(t, ca.Issue(t, certtest.Options{}), nil)
	f := sso.New(sso.Options{Timeout: 5 * time.Second})
	c := &directory.Cluster{Code: "TLS", Name: "tls", SSOURL: url + "/sso", ServerURL: url, Enabled: true, CAFile: other.File}
	if _, _, err := login(t, f, c); err == nil {
		t.Fatal("a certificate of an untrusted CA was accepted")
	}
	c.CAFile = ca.File
	if status, _, err := login(t, f, c); err != nil || status != 200 {
		t.Fatalf("after the ca_file fix: %d %v", status, err)
	}
}

func slogDiscard() *log.Logger { return log.New(io.Discard, "", 0) }

// A renewed client certificate (same files, new contents) is shown at the next handshake:
// mutual TLS survives a rotation without a restart.
func TestClientCertificateRotation(t *testing.T) {
	ca, clientCA, otherCA := certtest.NewCA(t, "SSO CA"), certtest.NewCA(t, "client CA"), certtest.NewCA(t, "retired client CA")
	url := tlsSSO(t, ca.Issue(t, certtest.Options{}), clientCA)
	current := otherCA.Issue(t, certtest.Options{CommonName: "old", Client: true}) // the SSO no longer trusts it
	f := sso.New(sso.Options{Timeout: 5 * time.Second,
		TLS: sso.TLSOptions{CAFile: ca.File, ClientCertFile: current.CertFile, ClientKeyFile: current.KeyFile}})
	c := &directory.Cluster{Code: "TLS", Name: "tls", SSOURL: url + "/sso", ServerURL: url, Enabled: true}
	if _, _, err := login(t, f, c); err == nil {
		t.Fatal("the SSO accepted a certificate of a CA it does not trust")
	}
	clientCA.Issue(t, certtest.Options{CommonName: "renewed", Client: true}).WriteTo(t, current.CertFile, current.KeyFile)
	f.CloseIdleConnections()
	if status, _, err := login(t, f, c); err != nil || status != 200 {
		t.Fatalf("after renewing the client certificate: %d %v", status, err)
	}
}
