package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/certs/certtest"
)

func tlsExtra(public, admin *certtest.Leaf) string {
	return fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\nadmin_tls:\n  cert_file: %s\n  key_file: %s\n",
		public.CertFile, public.KeyFile, admin.CertFile, admin.KeyFile)
}

// SPEC section 6 and 10: SIGHUP applies new certificate paths to both listeners of the real
// process; a keep-alive connection opened before the reload keeps working.
func TestSIGHUPReloadsCertificates(t *testing.T) {
	sso := startRefSSO(t, map[string]string{"alice": "pw"})
	ca := certtest.NewCA(t, "gateway CA")
	public, admin := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	path := filepath.Join(t.TempDir(), "ssogate.yaml")
	clusters := []clusterEntry{{"ONE", sso.URL}}
	writeConfig(t, path, clusters, tlsExtra(public, admin))
	p := startServe(t, path)
	publicAddr, adminAddr := strings.TrimPrefix(p.public, "http://"), strings.TrimPrefix(p.admin, "http://")

	keepAlive := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	get := func() error {
		resp, err := keepAlive.Get("https://" + adminAddr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	// New files at new paths: only the reload, not the file watcher, can find them.
	nextPublic, nextAdmin := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	writeConfig(t, path, clusters, tlsExtra(nextPublic, nextAdmin))
	p.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pub, adm := presented(t, publicAddr, ca), presented(t, adminAddr, ca)
		if bytes.Equal(pub, nextPublic.Cert.Raw) && bytes.Equal(adm, nextAdmin.Cert.Raw) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after SIGHUP the listeners still present the old certificates\n%s", p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := get(); err != nil {
		t.Fatalf("the keep-alive connection opened before the reload failed: %v", err)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func presented(t *testing.T, addr string, ca *certtest.CA) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}
