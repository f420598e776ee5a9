package certs_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/certs"
	"github.com/ssogate/ssogate/internal/certs/certtest"
)

// handshakeLeaf dials a TLS listener and returns the certificate the server presented.
func handshakeLeaf(t *testing.T, addr string, ca *certtest.CA) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

// serve accepts TLS connections with r's config and completes their handshakes.
func serve(t *testing.T, r *certs.Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerConfig(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Read(make([]byte, 1)); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestWatchSwapsChangedFiles(t *testing.T) {
	ca := certtest.NewCA(t, "test CA")
	first, second := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	r, err := certs.New(first.CertFile, first.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r)
	if got := handshakeLeaf(t, addr, ca); !bytes.Equal(got, first.Cert.Raw) {
		t.Fatal("the first handshake did not present the first certificate")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 20*time.Millisecond)

	second.WriteTo(t, first.CertFile, first.KeyFile)
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Equal(handshakeLeaf(t, addr, ca), second.Cert.Raw) {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not swap in the changed files within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHalfWrittenPairKeepsRunningCertificate(t *testing.T) {
	ca := certtest.NewCA(t, "test CA")
	first, second := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	r, err := certs.New(first.CertFile, first.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The new certificate is in place, its key not yet: the pair does not match.
	if err := os.WriteFile(first.CertFile, second.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReloadIfChanged(); err == nil {
		t.Fatal("a certificate with another certificate's key was accepted")
	}
	if !bytes.Equal(r.Current().Certificate[0], first.Cert.Raw) {
		t.Fatal("a failed reload replaced the running certificate")
	}
	if err := os.WriteFile(first.KeyFile, second.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := r.ReloadIfChanged()
	if err != nil || !changed || !bytes.Equal(r.Current().Certificate[0], second.Cert.Raw) {
		t.Fatalf("the completed pair was not taken: changed=%v err=%v", changed, err)
	}
	if changed, err := r.ReloadIfChanged(); err != nil || changed {
		t.Fatalf("unchanged files reported as a change: changed=%v err=%v", changed, err)
	}
}

func TestOldTLSVersionsRefused(t *testing.T) {
	ca := certtest.NewCA(t, "test CA")
	leaf := ca.Issue(t, certtest.Options{})
	r, err := certs.New(leaf.CertFile, leaf.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r)
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: v, MaxVersion: v})
		if err == nil {
			conn.Close()
			t.Fatalf("a %s handshake succeeded", tls.VersionName(v))
		}
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	conn.Close()
}

func TestCheck(t *testing.T) {
	ca := certtest.NewCA(t, "test CA")
	leaf, other := ca.Issue(t, certtest.Options{}), ca.Issue(t, certtest.Options{})
	tests := []struct {
		name, cert, key string
		ok              bool
	}{
		{"plain HTTP", "", "", true},
		{"a matching pair", leaf.CertFile, leaf.KeyFile, true},
		{"key missing", leaf.CertFile, "", false},
		{"certificate missing", "", leaf.KeyFile, false},
		{"no such file", leaf.CertFile + ".nope", leaf.KeyFile, false},
		// A key that is not the certificate's would fail every handshake.
		{"mismatched pair", leaf.CertFile, other.KeyFile, false},
		{"not PEM", leaf.KeyFile, leaf.KeyFile, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := certs.Check(tc.cert, tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
			if tc.name == "key missing" && !errors.Is(err, certs.ErrIncomplete) {
				t.Fatalf("Check = %v, want ErrIncomplete", err)
			}
		})
	}
}
