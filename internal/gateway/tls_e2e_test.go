package gateway_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/certs/certtest"
	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/refsso"
)

// tlsGateway runs a gateway whose two listeners serve TLS with leaf (public) and admin.
func tlsGateway(t *testing.T, logs *syncBuffer, clusters []directory.Cluster, public, admin *certtest.Leaf) *env {
	t.Helper()
	return startGateway(t, logs, clusters, func(c *config.Config) {
		c.TLS = config.TLSConfig{CertFile: public.CertFile, KeyFile: public.KeyFile}
		c.AdminTLS = config.TLSConfig{CertFile: admin.CertFile, KeyFile: admin.KeyFile}
	})
}

func tlsClient(ca *certtest.CA, keepAlive bool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		DisableKeepAlives: !keepAlive,
	}}
}

// leafOf returns the certificate a fresh handshake with addr presents.
func leafOf(t *testing.T, addr string, ca *certtest.CA) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

func tlsLogin(c *http.Client, base string) error {
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"access_token"`)) {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
	return nil
}

// SPEC section 10: both listeners serve TLS 1.2+, and replacing the certificate files while
// logins run makes new handshakes present the new certificate with no request failing —
// neither those on new connections nor those on keep-alive connections opened before.
func TestTLSListenersSwapCertificatesUnderLoad(t *testing.T) {
	logs := &syncBuffer{}
	sso := startSSO(t, "one", map[string]string{"alice": "pw"}, io.Discard)
	ca := certtest.NewCA(t, "gateway CA")
	public, admin := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	e := tlsGateway(t, logs, []directory.Cluster{{Code: "ONE", Name: "one", SSOURL: sso.URL + "/sso", ServerURL: sso.URL, Enabled: true}}, public, admin)
	e.bind(directory.NamespaceUser, "alice", "ONE")
	publicBase, adminBase := "https://"+e.g.PublicAddr(), "https://"+e.g.AdminAddr()

	if err := tlsLogin(tlsClient(ca, false), publicBase); err != nil {
		t.Fatalf("login over TLS: %v", err)
	}
	// The SSO learns that the client came over TLS.
	if got := sso.last(t).Proto; got != "https" {
		t.Fatalf("X-Forwarded-Proto to the SSO = %q, want https", got)
	}
	resp, err := tlsClient(ca, false).Get(adminBase + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin /healthz over TLS: %v %v", resp, err)
	}
	resp.Body.Close()
	// Plain HTTP to a TLS listener gets no answer it could mistake for one.
	if resp, err := httpClient.Get("http://" + e.g.AdminAddr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("the admin TLS listener answered plain HTTP with 200")
	}

	// Load: fresh connections (a handshake each) and keep-alive connections, until the swap
	// has been seen and a while after.
	var failures atomic.Int32
	var requests atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tlsClient(ca, i%2 == 0)
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := tlsLogin(c, publicBase); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				requests.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	nextPublic, nextAdmin := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	nextPublic.WriteTo(t, public.CertFile, public.KeyFile)
	nextAdmin.WriteTo(t, admin.CertFile, admin.KeyFile)
	deadline := time.Now().Add(15 * time.Second)
	for !bytes.Equal(leafOf(t, e.g.PublicAddr(), ca), nextPublic.Cert.Raw) || !bytes.Equal(leafOf(t, e.g.AdminAddr(), ca), nextAdmin.Cert.Raw) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatal("new handshakes still present the old certificate 15 s after the files changed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d logins failed during the swap; first: %v", n, requests.Load(), firstErr.Load())
	}
	t.Logf("%d logins during the swap, none failed", requests.Load())
	if requests.Load() < 20 {
		t.Fatalf("only %d logins ran: no load to speak of", requests.Load())
	}
	if !strings.Contains(logs.String(), "tls certificate reloaded") {
		t.Fatal("the swap was not logged")
	}
}

// SPEC section 10: TLS 1.2 minimum on both listeners.
func TestTLSListenersRefuseOldVersions(t *testing.T) {
	ca := certtest.NewCA(t, "gateway CA")
	e := tlsGateway(t, &syncBuffer{}, nil, ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{}))
	for _, addr := range []string{e.g.PublicAddr(), e.g.AdminAddr()} {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v})
			if err == nil {
				conn.Close()
				t.Fatalf("%s accepted %s", addr, tls.VersionName(v))
			}
		}
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("%s refused TLS 1.2: %v", addr, err)
		}
		conn.Close()
	}
}

// SPEC section 4: an SSO whose certificate the gateway cannot verify answers 1002
// temporarily_unavailable, and the log names the cluster and the reason.
func TestSSOCertificateProblemAnswers1002(t *testing.T) {
	logs := &syncBuffer{}
	ca := certtest.NewCA(t, "SSO CA")
	leaf := ca.Issue(t, certtest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	srv := startTLSSSO(t, leaf)
	e := startGateway(t, logs, []directory.Cluster{{Code: "EXP", Name: "expired", SSOURL: srv + "/sso", ServerURL: srv, Enabled: true, CAFile: ca.File}}, nil)
	e.bind(directory.NamespaceUser, "alice", "EXP")
	r := e.post(true, login("alice", "pw")...)
	if r.code() != 1002 || r.str("error") != "temporarily_unavailable" {
		t.Fatalf("answer to a login behind an expired certificate: %s", r.Raw)
	}
	log := logs.String()
	if !strings.Contains(log, `"cluster":"EXP"`) || !strings.Contains(log, "expired") {
		t.Fatalf("the log does not name the cluster and the reason:\n%s", log)
	}
	if strings.Contains(log, "pw\"") || strings.Contains(log, clientSecret) {
		t.Fatal("the log holds a password or client secret")
	}
}

// startTLSSSO serves a reference SSO (user alice, password pw) over TLS with leaf;
// clientCA, when given, makes it demand a client certificate signed by it.
func startTLSSSO(t *testing.T, leaf *certtest.Leaf, clientCA ...*certtest.CA) string {
	t.Helper()
	rs, err := refsso.New(refsso.Config{Name: "tls", Prefix: "/sso", Users: map[string]string{"alice": "pw"},
		Clients: map[string]string{clientID: clientSecret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	if len(clientCA) > 0 {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, clientCA[0].Pool()
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rs.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// SPEC section 4: sso.ca_file and sso.client_cert_file/client_key_file from the configuration
// reach the forwarder: a login through an SSO that demands mutual TLS succeeds, and a cluster
// whose SSO the gateway cannot authenticate to answers 1002.
func TestMutualTLSToSSOFromConfig(t *testing.T) {
	logs := &syncBuffer{}
	ca, clientCA := certtest.NewCA(t, "SSO CA"), certtest.NewCA(t, "client CA")
	client := clientCA.Issue(t, certtest.Options{CommonName: "ssogate", Client: true})
	mtls := startTLSSSO(t, ca.Issue(t, certtest.Options{}), clientCA)
	strangerCA := certtest.NewCA(t, "a CA the SSO does not know")
	stranger := strangerCA.Issue(t, certtest.Options{CommonName: "stranger", Client: true})
	e := startGateway(t, logs, []directory.Cluster{
		{Code: "MTLS", Name: "mtls", SSOURL: mtls + "/sso", ServerURL: mtls, Enabled: true},
		// The same SSO, this cluster showing a certificate of its own that the SSO refuses.
		{Code: "WRONG", Name: "wrong", SSOURL: mtls + "/sso", ServerURL: mtls, Enabled: true,
			ClientCertFile: stranger.CertFile, ClientKeyFile: stranger.KeyFile},
	}, func(c *config.Config) {
		c.SSO.CAFile, c.SSO.ClientCertFile, c.SSO.ClientKeyFile = ca.File, client.CertFile, client.KeyFile
	})
	e.bind(directory.NamespaceUser, "alice", "MTLS")
	e.bind(directory.NamespaceUser, "alice", "WRONG")
	if r := e.post(true, login("alice", "pw", "clusterCode", "MTLS")...); r.code() != 200 || r.str("cluster_code") != "MTLS" {
		t.Fatalf("login through the mutual-TLS SSO: %s", r.Raw)
	}
	r := e.post(true, login("alice", "pw", "clusterCode", "WRONG")...)
	if r.code() != 1002 || r.str("error") != "temporarily_unavailable" {
		t.Fatalf("login with a refused client certificate: %s", r.Raw)
	}
	if log := logs.String(); !strings.Contains(log, `"cluster":"WRONG"`) || !strings.Contains(log, "refused the handshake") {
		t.Fatalf("the log does not name the cluster and the reason:\n%s", log)
	}
}
