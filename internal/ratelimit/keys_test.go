package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The key layout is what shared stores hold across versions and what the lockouts API names:
// it must not drift (see keys).
func TestKeyLayout(t *testing.T) {
	h, hIP := hashHex("user:alice"), hashHex("not an address")
	o := &Options{Prefix: "sg:"}
	for _, c := range []struct {
		name, user, ip string
		want           keys
	}{
		{"both", "user:alice", "192.0.2.1", keys{
			user: "sg:{u:" + h + "}c", userFlight: "sg:{u:" + h + "}f", lock: "sg:{u:" + h + "}l", strikes: "sg:{u:" + h + "}s",
			ip: "sg:{ip:192.0.2.1}c", ipFlight: "sg:{ip:192.0.2.1}f"}},
		{"IPv6 shares its /64", "", "2001:db8:1:2:3:4:5:6", keys{ip: "sg:{ip:2001:db8:1:2::/64}c", ipFlight: "sg:{ip:2001:db8:1:2::/64}f"}},
		{"IPv4-mapped and zoned addresses are the plain address", "", "::ffff:192.0.2.7", keys{ip: "sg:{ip:192.0.2.7}c", ipFlight: "sg:{ip:192.0.2.7}f"}},
		{"not an address: hashed, never raw", "", "not an address", keys{ip: "sg:{ip:h:" + hIP + "}c", ipFlight: "sg:{ip:h:" + hIP + "}f"}},
		{"username only", "user:alice", "", keys{user: "sg:{u:" + h + "}c", userFlight: "sg:{u:" + h + "}f", lock: "sg:{u:" + h + "}l", strikes: "sg:{u:" + h + "}s"}},
		{"neither", "", "", keys{}},
	} {
		if got := o.keys(c.user, c.ip); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if got := (&Options{}).keys("", "fe80::1%eth0"); got.ip != "{ip:fe80::/64}c" {
		t.Errorf("no prefix, zoned IPv6: %q", got.ip)
	}
}

// hashHex is the key's name hash computed independently of appendHash: 128 bits of SHA-256.
func hashHex(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}
