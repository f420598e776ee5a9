package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// zeroMeans lists the keys whose zero or empty value is a setting of its own, with what it
// means. Every other key refuses zero, naming the key. Issue 8 item 5: cache.stale_if_error: 0
// was accepted here and then taken for "unset" (1 h) further down; a key whose zero passes
// validation must say what it means, and the code must do that, not the default. A new key
// whose zero validates fails this test until it gets its line here (and in the README).
var zeroMeans = map[string]string{
	"admin_token":               "generated at start and written to admin-token (0600)",
	"username_case_insensitive": "false: usernames are exact-case",
	"http.max_conns":            "no cap on simultaneous connections",
	"http.trusted_proxies":      "no proxy is trusted",
	"store.redis_addrs":         "none: only valid with store.driver embedded",
	"store.redis_master":        "not Sentinel",
	"store.redis_password":      "no AUTH",
	"store.redis_db":            "database 0",
	"store.redis_prefix":        "refused with store.driver redis; unused with embedded",
	"store.redis_flush_delay":   "every Redis command written at once",
	"store.redis_connections":   "the Redis client's choice by CPU count (2 on 2 cores, 4 from 4)",
	"cache.stale_if_error":      "never serve a stale answer",
	"ratelimit.enabled":         "false: no brute-force limits",
	"clusters":                  "no cluster upserted from the file",
	"sso.ca_file":               "the system's CAs only",
	"sso.client_cert_file":      "no client certificate (unless the cluster names one)",
	"sso.client_key_file":       "no client certificate (unless the cluster names one)",
	"tls.cert_file":             "plain HTTP on the public listener",
	"tls.key_file":              "plain HTTP on the public listener",
	"admin_tls.cert_file":       "plain HTTP on the admin listener",
	"admin_tls.key_file":        "plain HTTP on the admin listener",
	"admin_tokens":              "no scoped tokens: admin_token (or the generated one) alone",
	"tracing.otlp_endpoint":     "tracing off: no spans, trace headers passed through",
	"tracing.sample_ratio":      "record only traces whose traceparent is sampled",
	"tracing.service_name":      "service.name ssogate",
}

func TestZeroValuesAreRefusedOrMeaningful(t *testing.T) {
	for _, k := range allKeys() {
		t.Run(k.key, func(t *testing.T) {
			c := Default()
			f := reflect.ValueOf(&c).Elem().FieldByIndex(k.index)
			f.Set(reflect.Zero(f.Type()))
			err := c.Validate()
			named := false
			for _, e := range unjoin(err) {
				var fe *FieldError
				if errors.As(e, &fe) && (fe.Key == k.key || strings.HasPrefix(fe.Key, k.key+"[")) {
					named = true
				}
			}
			meaning, listed := zeroMeans[k.key]
			switch {
			case !named && !listed:
				t.Errorf("%s: zero is accepted but zeroMeans does not say what it means (err: %v)", k.key, err)
			case named && listed:
				t.Errorf("%s: zero is refused (%v) yet listed as meaning %q", k.key, err, meaning)
			}
		})
	}
}
