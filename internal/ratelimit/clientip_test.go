package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		name, remote, xff, want string
	}{
		// Anyone can write X-Forwarded-For; only a trusted peer's is read.
		{"untrusted peer, header ignored", "203.0.113.9", "198.51.100.1", "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.1", "", "10.0.0.1"},
		{"trusted peer, one hop", "10.0.0.1", "198.51.100.1", "198.51.100.1"},
		// The leftmost entries were written by the client: the rightmost untrusted one wins.
		{"spoofed left entry", "10.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.7,10.1.2.3", "198.51.100.1"},
		{"all trusted: the leftmost is the client", "10.0.0.1", "10.9.9.9, 10.0.0.7", "10.9.9.9"},
		{"port on an entry", "10.0.0.1", "198.51.100.1:5555", "198.51.100.1"},
		{"IPv6 with port", "10.0.0.1", "[2001:db8::1]:443", "2001:db8::1"},
		{"IPv6 trusted peer", "2001:db8:ffff::1", "2001:db8::1", "2001:db8::1"},
		{"IPv4-mapped peer and entry are unmapped", "::ffff:10.0.0.1", "::ffff:198.51.100.1", "198.51.100.1"},
		{"zone dropped", "fe80::1%eth0", "", "fe80::1"},
		// Garbage where the client should be: the proxy's own address takes the budget,
		// never an address further left that the client chose.
		{"unknown", "10.0.0.1", "1.2.3.4, unknown", "10.0.0.1"},
		{"obfuscated node", "10.0.0.1", "1.2.3.4, _hidden", "10.0.0.1"},
		{"empty entry", "10.0.0.1", "1.2.3.4,, 10.0.0.2", "10.0.0.1"},
		{"trailing comma", "10.0.0.1", "198.51.100.1,", "10.0.0.1"},
		{"only spaces", "10.0.0.1", "   ", "10.0.0.1"},
		{"garbage left of the client is never read", "10.0.0.1", "garbage, 198.51.100.1", "198.51.100.1"},
		{"invalid peer", "", "198.51.100.1", "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var remote netip.Addr
			if tc.remote != "" {
				remote = netip.MustParseAddr(tc.remote)
			}
			if got := ClientIP(remote, tc.xff, testTrusted); got.String() != tc.want {
				t.Fatalf("ClientIP(%s, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

// FuzzClientIP checks what must hold for any header: the answer is the peer or an entry of
// the header; with an untrusted peer it is the peer; an entry is returned only if it is
// untrusted or every entry right of it is trusted.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.7", "10.0.0.0/8")
	f.Add("203.0.113.9", "198.51.100.1", "10.0.0.0/8")
	f.Add("2001:db8:ffff::1", "[2001:db8::1]:443, unknown", "2001:db8:ffff::/48")
	f.Fuzz(func(t *testing.T, remoteS, xff, trustedS string) {
		remote, _ := netip.ParseAddr(remoteS)
		var trusted []netip.Prefix
		for _, s := range strings.Split(trustedS, ",") {
			if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				trusted = append(trusted, p)
			}
		}
		got := ClientIP(remote, xff, trusted)
		peer := normAddr(remote)
		if got == peer {
			return
		}
		if !isTrusted(peer, trusted) {
			t.Fatalf("untrusted peer %s, but answered %s", peer, got)
		}
		entries := strings.Split(xff, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			a, ok := parseForwarded(strings.TrimSpace(entries[i]))
			if !ok {
				t.Fatalf("answer %s is left of garbage %q in %q", got, entries[i], xff)
			}
			trustedA := isTrusted(a, trusted)
			if a == got && (!trustedA || i == 0) {
				return
			}
			if !trustedA {
				t.Fatalf("answer %s skips untrusted %s in %q", got, a, xff)
			}
		}
		t.Fatalf("answer %s is neither the peer, nor the first untrusted entry, nor the leftmost of %q", got, xff)
	})
}

func BenchmarkClientIP(b *testing.B) {
	remote := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		ClientIP(remote, "1.2.3.4, 198.51.100.1, 10.0.0.7", testTrusted)
	}
}
