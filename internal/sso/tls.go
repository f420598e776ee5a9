package sso

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ssogate/ssogate/internal/certs"
	"github.com/ssogate/ssogate/internal/directory"
)

// TLSOptions are the gateway-wide files for https token URLs (sso.ca_file,
// sso.client_cert_file, sso.client_key_file); a cluster's own fields add to or override them.
type TLSOptions struct {
	// CAFile is trusted besides the system's CAs (and the cluster's ca_file).
	CAFile string
	// ClientCertFile and ClientKeyFile are shown to SSOs that demand mutual TLS, unless the
	// cluster names its own pair.
	ClientCertFile, ClientKeyFile string
}

// errTLSConfig marks a cluster whose TLS files cannot be used: no request is sent.
var errTLSConfig = errors.New("tls configuration")

// tlsFileSet is what an upstream's TLS depends on: a change of any file name makes a new
// upstream. A comparable struct, so the check on every request allocates nothing.
type tlsFileSet struct{ ca, cert, key string }

func tlsFiles(c *directory.Cluster) tlsFileSet {
	return tlsFileSet{c.CAFile, c.ClientCertFile, c.ClientKeyFile}
}

// setTLS gives an https upstream its verification and client certificate: the system's CAs
// plus sso.ca_file plus the cluster's ca_file, and the cluster's client pair or else the
// gateway's (SPEC section 4). The files are read now, once per upstream; the pool is the
// upstream's own, never shared with another cluster.
func (f *Forwarder) setTLS(up *upstream, c *directory.Cluster) error {
	up.tlsFiles = tlsFiles(c)
	if !up.client.IsTLS {
		return nil
	}
	pool, err := certs.Pool(f.opts.TLS.CAFile, c.CAFile)
	if err != nil {
		return fmt.Errorf("%w: %w", errTLSConfig, err)
	}
	host, _, err := net.SplitHostPort(up.client.Addr)
	if err != nil {
		host = up.client.Addr
	}
	cfg := &tls.Config{
		MinVersion: certs.MinVersion,
		RootCAs:    pool,
		ServerName: host,
		// The session cache saves a full handshake on a new pooled connection.
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
	certFile, keyFile := f.opts.TLS.ClientCertFile, f.opts.TLS.ClientKeyFile
	if c.ClientCertFile != "" {
		certFile, keyFile = c.ClientCertFile, c.ClientKeyFile
	}
	if certFile != "" {
		pair, err := certs.New(certFile, keyFile, nil)
		if err != nil {
			return fmt.Errorf("%w: client certificate: %w", errTLSConfig, err)
		}
		// Read again at each handshake if the files changed, so a renewed client certificate
		// is shown without a restart (a pair caught half-written keeps the previous one).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			pair.ReloadIfChanged()
			return pair.Current(), nil
		}
	}
	up.client.TLSConfig = cfg
	// The handshake is made here rather than by fasthttp so that an alert the SSO sends after
	// it (TLS 1.3 servers refuse a client certificate only then) is remembered: fasthttp
	// reports any error on the answer's first byte as "connection closed".
	dial := up.client.DialTimeout
	up.client.DialTimeout = func(addr string, timeout time.Duration) (net.Conn, error) {
		raw, err := dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, cfg)
		conn.SetDeadline(time.Now().Add(timeout))
		if err := conn.Handshake(); err != nil {
			raw.Close()
			return nil, err
		}
		conn.SetDeadline(time.Time{})
		return &alertConn{Conn: conn, up: up}, nil
	}
	return nil
}

// alertConn records a TLS alert read from the SSO on its upstream.
type alertConn struct {
	*tls.Conn
	up *upstream
}

func (c *alertConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var op *net.OpError
	if err != nil && errors.As(err, &op) && op.Op == "remote error" {
		c.up.lastAlert.Store(&alertRecord{err: err, at: time.Now()})
	}
	return n, err
}

type alertRecord struct {
	err error
	at  time.Time
}

// recentAlert returns the TLS alert the SSO sent on one of up's connections within the last
// few seconds, to explain a connection closed before any answer.
func (up *upstream) recentAlert() error {
	if a := up.lastAlert.Load(); a != nil && time.Since(a.at) < 5*time.Second {
		return a.err
	}
	return nil
}

// tlsFailure names a certificate problem of an exchange for the log: the SSO's certificate
// failed verification, or the SSO refused ours (or its absence). ok is false for other errors.
func tlsFailure(err error) (reason string, ok bool) {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		op       *net.OpError
	)
	switch {
	case errors.Is(err, errTLSConfig):
		return "tls configuration", true
	case errors.As(err, &unknown):
		return "tls: sso certificate signed by an unknown authority", true
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "tls: sso certificate expired or not yet valid", true
	case errors.As(err, &invalid):
		return "tls: sso certificate invalid", true
	case errors.As(err, &hostname):
		return "tls: sso certificate not valid for the token url's host", true
	case errors.As(err, &verify):
		return "tls: sso certificate rejected", true
	case errors.As(err, &record):
		return "tls: the token url's server does not speak TLS", true
	case errors.As(err, &op) && op.Op == "remote error" && strings.HasPrefix(op.Err.Error(), "tls: "):
		// An alert from the SSO: it refused our client certificate or wanted one.
		return "tls: sso refused the handshake (" + op.Err.Error() + ")", true
	}
	return "", false
}
