package ratelimit

import (
	"net/netip"
	"strings"
)

// ClientIP is the address a request's failures are counted against (issue 4: "from the
// connection, or from X-Forwarded-For only when the immediate peer is a trusted proxy").
//
// remote is the connection's peer. If it is not inside a trusted prefix, X-Forwarded-For is
// ignored: anyone can write that header, and believing it would let an attacker pick a fresh
// IP budget per request. If it is, xff (every X-Forwarded-For line of the request joined with
// ",", in order) is read from the right, the end our own proxies appended to: trusted
// addresses are skipped and the first untrusted one is the client. Entries further left were
// written by the client and are never believed. If every entry is trusted, the leftmost is
// the client (a host inside the trusted network). An entry that is not an address ("unknown",
// an RFC 7239 obfuscated name, garbage) before an untrusted one is found yields remote: the
// proxy could not say who its peer was, so the proxy's own address carries the budget.
//
// Entries may carry a port ("192.0.2.1:1234", "[2001:db8::1]:443"); IPv4-mapped IPv6
// addresses are unmapped and zones dropped, so one client always gets one key. Trusted
// prefixes are matched as given, so write IPv4 proxies as IPv4 prefixes.
func ClientIP(remote netip.Addr, xff string, trusted []netip.Prefix) netip.Addr {
	remote = normAddr(remote)
	if !isTrusted(remote, trusted) {
		return remote
	}
	client := remote
	for rest := xff; ; {
		i := strings.LastIndexByte(rest, ',')
		entry := strings.TrimSpace(rest[i+1:])
		if entry != "" || i >= 0 { // an empty header is no entry; an empty entry is garbage
			a, ok := parseForwarded(entry)
			if !ok {
				return remote
			}
			if !isTrusted(a, trusted) {
				return a
			}
			client = a
		}
		if i < 0 {
			return client
		}
		rest = rest[:i]
	}
}

func normAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwarded reads one X-Forwarded-For entry: an address, optionally with a port.
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normAddr(ap.Addr()), true
	}
	return netip.Addr{}, false
}
