package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
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
	var k keys
	if username != "" {
		base := o.Prefix + "{u:" + userHash(username) + "}"
		k.user, k.userFlight, k.lock, k.strikes = base+"c", base+"f", base+"l", base+"s"
	}
	if ip != "" {
		base := o.Prefix + "{ip:" + ipPart(ip) + "}"
		k.ip, k.ipFlight = base+"c", base+"f"
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

func ipPart(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "h:" + userHash(ip) // not an address: never raw text in a key
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(ipv6Bits)
		return p.String()
	}
	return a.String()
}
