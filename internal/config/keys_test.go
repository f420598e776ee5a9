package config

import (
	"slices"
	"testing"
	"time"
)

func TestKeysListsEveryLeaf(t *testing.T) {
	keys := Keys()
	for _, want := range []string{"listen", "admin_token", "http.trusted_proxies", "store.redis_addrs", "cache.stale_if_error", "ratelimit.enabled", "clusters"} {
		if !slices.Contains(keys, want) {
			t.Errorf("Keys() lacks %q: %v", want, keys)
		}
	}
	for _, k := range keys {
		if k == "http" || k == "store" || k == "sso" {
			t.Errorf("a section is listed as a key: %q", k)
		}
	}
}

func TestChangedAndCopyKey(t *testing.T) {
	a := Default()
	b := Default()
	if got := Changed(a, b); len(got) != 0 {
		t.Fatalf("identical configs differ in %v", got)
	}
	b.SSO.Timeout = time.Minute
	b.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	b.AdminToken = "secret"
	a.Store.RedisAddrs = []string{} // an empty list equals an absent one
	got := Changed(a, b)
	if want := []string{"admin_token", "http.trusted_proxies", "sso.timeout"}; !slices.Equal(got, want) {
		t.Fatalf("Changed = %v, want %v", got, want)
	}
	CopyKey(&a, b, "sso.timeout")
	if a.SSO.Timeout != time.Minute {
		t.Fatal("CopyKey did not copy")
	}
	if got := Changed(a, b); slices.Contains(got, "sso.timeout") {
		t.Fatalf("after CopyKey still changed: %v", got)
	}
}
