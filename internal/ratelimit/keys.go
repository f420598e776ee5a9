package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
)

// UserSubject is the username a limiter counts: the namespace ("user", "manager") and the
// canonical name (trimmed, case folded when the directory folds case). The token endpoint and
// the lockouts API both name a username through it, so they always mean the same counters.
func UserSubject(namespace, name string) string { return namespace + ":" + name }

// keys are an attempt's counters in the store.
//
// A username never appears in a key, only its hash (SPEC section 6): a name is chosen by
// whoever types it, and in Redis Cluster a "{…}" in a key picks the slot, so a raw name could
// pile every counter of a crafted set of usernames onto one node. The hash goes inside braces
// of our own, so the username's counters (counter, in flight, lock, strikes) share one slot:
// a batch for one username is one node's, in order. IP keys do the same with the address
// (an address carries no braces).
//
//	{u:HASH}c  reservations (recorded failures + attempts in flight), UserWindow
//	{u:HASH}f  attempts in flight
//	{u:HASH}l  lock, the lockout's length
//	{u:HASH}s  strikes (lockouts within StrikeWindow)
//	{ip:ADDR}c, {ip:ADDR}f   the same for the client address (IPv6: its /64)
type keys struct{ user, userFlight, lock, strikes, ip, ipFlight string }

func (o *Options) keys(username, ip string) keys {
	// The two bases ("PREFIX{u:HASH}", "PREFIX{ip:ADDR}") are made on the stack, then all six
	// keys are written into one string and sliced from it: one allocation per attempt instead
	// of one per key (Begin runs on every password login).
	var ubuf, ibuf [128]byte
	var userBase, ipBase []byte
	if username != "" {
		userBase = append(appendHash(append(append(ubuf[:0], o.Prefix...), "{u:"...), username), '}')
	}
	if ip != "" {
		ipBase = append(appendIPPart(append(append(ibuf[:0], o.Prefix...), "{ip:"...), ip), '}')
	}
	un, in := len(userBase)+1, len(ipBase)+1 // a key is its base and one letter
	var buf strings.Builder                  // its String is the bytes written, not a copy
	buf.Grow(4*un + 2*in)
	if username != "" {
		for _, suffix := range "cfls" {
			buf.Write(userBase)
			buf.WriteByte(byte(suffix))
		}
	}
	if ip != "" {
		for _, suffix := range "cf" {
			buf.Write(ipBase)
			buf.WriteByte(byte(suffix))
		}
	}
	all := buf.String()
	var k keys
	if username != "" {
		k.user, k.userFlight, k.lock, k.strikes = all[:un], all[un:2*un], all[2*un:3*un], all[3*un:4*un]
		all = all[4*un:]
	}
	if ip != "" {
		k.ip, k.ipFlight = all[:in], all[in:2*in]
	}
	return k
}

func (k keys) isFlight(key string) bool {
	return key != "" && (key == k.userFlight || key == k.ipFlight)
}

// appendHash appends the first 128 bits of name's SHA-256, in hex: collisions are out of
// reach, and a 60 KiB username still makes a short key (Begin runs before the directory
// validates usernames).
func appendHash(b []byte, name string) []byte {
	sum := sha256.Sum256([]byte(name))
	return hex.AppendEncode(b, sum[:16])
}

// ipv6Bits is the prefix an IPv6 client shares its budget with: providers hand each
// customer at least a /64, so per-address counting would give one host 2^64 budgets.
const ipv6Bits = 64

// appendIPPart appends the part of a key that names ip's budget.
func appendIPPart(b []byte, ip string) []byte {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return appendHash(append(b, "h:"...), ip) // not an address: never raw text in a key
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(ipv6Bits)
		return p.AppendTo(b)
	}
	return a.AppendTo(b)
}
