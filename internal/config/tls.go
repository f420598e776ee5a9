package config

import (
	"errors"

	"github.com/ssogate/ssogate/internal/certs"
	"github.com/ssogate/ssogate/internal/directory"
)

// TLSConfig is a listener's certificate (SPEC section 10). The files are read again on
// SIGHUP and whenever their contents change, without a restart.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the listener serves TLS.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// tls checks the listeners' certificates and the files used towards SSOs: each is read and
// parsed now (clusterTLS does the same for each cluster), so a bad file stops the start (and --check-config) naming its key.
func (v *validator) tls(c *Config) {
	v.keyPair("tls", c.TLS.CertFile, c.TLS.KeyFile)
	v.keyPair("admin_tls", c.AdminTLS.CertFile, c.AdminTLS.KeyFile)
	v.caFile("sso.ca_file", c.SSO.CAFile)
	v.clientPair("sso", c.SSO.ClientCertFile, c.SSO.ClientKeyFile)
}

// clusterTLS checks one entry of clusters; key is "clusters[i]".
func (v *validator) clusterTLS(key string, cl *directory.Cluster) {
	v.caFile(key+".ca_file", cl.CAFile)
	v.clientPair(key, cl.ClientCertFile, cl.ClientKeyFile)
}

func (v *validator) keyPair(prefix, certFile, keyFile string) {
	v.pair(prefix+".cert_file", prefix+".key_file", certFile, keyFile)
}

func (v *validator) clientPair(prefix, certFile, keyFile string) {
	v.pair(prefix+".client_cert_file", prefix+".client_key_file", certFile, keyFile)
}

func (v *validator) pair(certKey, keyKey, certFile, keyFile string) {
	err := certs.Check(certFile, keyFile)
	switch {
	case err == nil:
	case errors.Is(err, certs.ErrIncomplete) && certFile == "":
		v.add(certKey, "required when %s is set", keyKey)
	case errors.Is(err, certs.ErrIncomplete):
		v.add(keyKey, "required when %s is set", certKey)
	default:
		v.add(certKey, "%v", err)
	}
}

func (v *validator) caFile(key, path string) {
	if path == "" {
		return
	}
	if _, err := certs.Pool(path); err != nil {
		v.add(key, "%v", err)
	}
}
