package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MinVersion is the oldest TLS version either listener accepts (SPEC section 10).
const MinVersion = tls.VersionTLS12

// Reloader holds the certificate of one listener. Handshakes read it through GetCertificate,
// so a swap affects only handshakes that start after it: connections already open keep the
// certificate they were made with and are never closed by a reload.
type Reloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	cert atomic.Pointer[tls.Certificate]
	mu   sync.Mutex // serialises loads; guards sum
	sum  [sha256.Size]byte
}

// New loads the pair once; an error names the file that could not be used.
func New(certFile, keyFile string, logger *slog.Logger) (*Reloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if _, err := r.load(true); err != nil {
		return nil, err
	}
	return r, nil
}

// Files returns the certificate and key paths the reloader reads.
func (r *Reloader) Files() (certFile, keyFile string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.certFile, r.keyFile
}

// Use switches to another pair of files (a reload naming new paths) if they can be served;
// on error the running files and certificate stay.
func (r *Reloader) Use(certFile, keyFile string) error {
	next, err := New(certFile, keyFile, nil)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.certFile, r.keyFile = certFile, keyFile
	r.sum = next.sum
	r.cert.Store(next.cert.Load())
	return nil
}

// Current is the certificate new handshakes get.
func (r *Reloader) Current() *tls.Certificate { return r.cert.Load() }

// GetCertificate is a tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// GetClientCertificate is a tls.Config.GetClientCertificate, for the client side of mutual TLS.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Reload reads the files again and swaps the certificate in if they parse; on error the
// running certificate stays. It reports whether the certificate changed.
func (r *Reloader) Reload() (bool, error) { return r.load(true) }

// ReloadIfChanged is Reload when the files' contents differ from the last successful load:
// what the watcher calls every interval. Comparing contents rather than modification times
// also catches a Kubernetes Secret volume's symlink swap and a copy that keeps the mtime.
func (r *Reloader) ReloadIfChanged() (bool, error) { return r.load(false) }

func (r *Reloader) load(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(force)
}

func (r *Reloader) loadLocked(force bool) (bool, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return false, fmt.Errorf("certificate %s: %w", r.certFile, err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return false, fmt.Errorf("key %s: %w", r.keyFile, err)
	}
	sum := sha256.Sum256(append(append(bytes.Clone(certPEM), 0), keyPEM...))
	if !force && r.cert.Load() != nil && sum == r.sum {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// tls's message never quotes the key's bytes.
		return false, fmt.Errorf("certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	old := r.cert.Load()
	r.cert.Store(&pair)
	r.sum = sum
	return old != nil && !bytes.Equal(old.Certificate[0], pair.Certificate[0]), nil
}

// Watch polls the files every interval until ctx ends and swaps in a changed pair. A pair
// caught half-written (new certificate, old key) does not parse, is logged and retried at the
// next tick, the old certificate serving meanwhile.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.ReloadIfChanged()
		switch {
		case err != nil:
			if err.Error() != lastErr { // once per distinct problem, not every tick
				r.logger.Warn("tls certificate files changed but cannot be used; keeping the running certificate", "err", err)
			}
			lastErr = err.Error()
		case changed:
			lastErr = ""
			certFile, _ := r.Files()
			r.logger.Info("tls certificate reloaded", "cert_file", certFile, "not_after", r.Current().Leaf.NotAfter)
		default:
			lastErr = ""
		}
	}
}

// ServerConfig is the tls.Config of a listener served from r: TLS 1.2 at least, the
// certificate read at each handshake. nextProtos are the ALPN protocols the server speaks.
func ServerConfig(r *Reloader, nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:     MinVersion,
		GetCertificate: r.GetCertificate,
		NextProtos:     nextProtos,
	}
}

// ErrIncomplete is returned by Check when only one of the two files is named.
var ErrIncomplete = errors.New("cert_file and key_file must be set together")

// Check reports whether a certificate/key pair can be served; both empty means plain HTTP.
func Check(certFile, keyFile string) error {
	switch {
	case certFile == "" && keyFile == "":
		return nil
	case certFile == "" || keyFile == "":
		return ErrIncomplete
	}
	_, err := New(certFile, keyFile, nil)
	return err
}

// Pool returns the system's CAs plus the certificates of every PEM bundle named (empty names
// are skipped): what https token URLs are verified against (SPEC section 4).
func Pool(files ...string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool() // no system store (a scratch image without a bundle)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA bundle %s: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", f)
		}
	}
	return pool, nil
}
