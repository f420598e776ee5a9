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
	// All six keys are built into one string and sliced from it: one allocation per attempt
	// instead of one per key (Begin runs on every password login).
	var hash [32]byte
	var addr [64]byte
	var ub, ib int // lengths of the username's and the address's base ("PREFIX{…}")
	var ipb []byte
	if username != "" {
		ub = len(o.Prefix) + len("{u:}") + len(hash)
	}
	if ip != "" {
		ipb = appendIPPart(addr[:0], ip)
		ib = len(o.Prefix) + len("{ip:}") + len(ipb)
	}
	var buf strings.Builder // its String is the bytes written, not a copy
	buf.Grow(4*(ub+1) + 2*(ib+1))
	if username != "" {
		sum := sha256.Sum256([]byte(username))
		hex.Encode(hash[:], sum[:16])
		for _, suffix := range "cfls" {
			buf.WriteString(o.Prefix)
			buf.WriteString("{u:")
			buf.Write(hash[:])
			buf.WriteByte('}')
			buf.WriteByte(byte(suffix))
		}
	}
	if ip != "" {
		for _, suffix := range "cf" {
			buf.WriteString(o.Prefix)
			buf.WriteString("{ip:")
			buf.Write(ipb)
			buf.WriteByte('}')
			buf.WriteByte(byte(suffix))
		}
	}
	all := buf.String()
	var k keys
	if username != "" {
		n := ub + 1
		k.user, k.userFlight, k.lock, k.strikes = all[:n], all[n:2*n], all[2*n:3*n], all[3*n:4*n]
		all = all[4*n:]
	}
	if ip != "" {
		n := ib + 1
		k.ip, k.ipFlight = all[:n], all[n:2*n]
	}
	return k
}

func (k keys) isFlight(key string) bool {
	return key != "" && (key == k.userFlight || key == k.ipFlight)
}

// userHash is the first 128 bits of the username's SHA-256, in hex: collisions are out of
// reach, and a 60 KiB username still makes a short key (Begin runs before the directory
// validates usernames).
func userHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// ipv6Bits is the prefix an IPv6 client shares its budget with: providers hand each
// customer at least a /64, so per-address counting would give one host 2^64 budgets.
const ipv6Bits = 64

// appendIPPart appends the part of a key that names ip's budget.
func appendIPPart(b []byte, ip string) []byte {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return append(append(b, "h:"...), userHash(ip)...) // not an address: never raw text in a key
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(ipv6Bits)
		return p.AppendTo(b)
	}
	return a.AppendTo(b)
}
