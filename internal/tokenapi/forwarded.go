package tokenapi

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/ratelimit"
)

// origin is who sent a request, derived once per request in one place (SPEC section 2, step
// 6): the address its rate limits count against, and the X-Forwarded-For and
// X-Forwarded-Proto the SSO receives. Deriving the three separately (as clientIP, proto and
// forwardedFor once did) let them disagree about whom to trust.
type origin struct {
	client netip.Addr // rate limits and the access log
	// xff is the X-Forwarded-For to forward when a trusted proxy sent a chain; nil means the
	// peer's address alone (appendXFF), written only when a request is forwarded.
	xff   []byte
	proto string // X-Forwarded-Proto to forward
}

// appendXFF appends the X-Forwarded-For to forward.
func (o *origin) appendXFF(b []byte) []byte {
	if o.xff != nil {
		return append(b, o.xff...)
	}
	return o.client.AppendTo(b)
}

// SetTrustedProxies replaces http.trusted_proxies at run time (a configuration reload). Safe
// for concurrent use; requests already being served keep the list they started with.
func (h *Handler) SetTrustedProxies(prefixes []netip.Prefix) {
	p := append([]netip.Prefix(nil), prefixes...)
	h.trusted.Store(&p)
}

// TrustedProxies returns the list in force.
func (h *Handler) TrustedProxies() []netip.Prefix {
	return append([]netip.Prefix(nil), *h.trusted.Load()...)
}

var xffHeader = []byte("X-Forwarded-For")

// deriveOrigin reads the connection and, only when its peer is a trusted proxy, the forwarded
// headers:
//
//   - Untrusted peer (or none configured): the client is the peer; a client-written
//     X-Forwarded-For is REPLACED by the peer's address, never appended to, so nothing the
//     client wrote reaches the SSO as if a proxy had vouched for it; the proto is the
//     connection's.
//   - Trusted peer: every X-Forwarded-For line of the request is one list (RFC 9110 section 5.3:
//     lines of a list field combine in order, so a proxy that adds its own line cannot leave
//     the client's first line as the one read); the client is found from the right
//     (ratelimit.ClientIP); the peer is appended for the SSO; X-Forwarded-Proto is believed
//     when it says http or https (its last value: the nearest proxy's).
func (h *Handler) deriveOrigin(ctx *fasthttp.RequestCtx, o *origin) {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	o.client, o.proto = peer, "http"
	if ctx.IsTLS() {
		o.proto = "https"
	}
	trusted := *h.trusted.Load()
	if !peer.IsValid() || !containsAddr(trusted, peer) {
		o.xff = nil // the peer's address: the client, see appendXFF
		return
	}
	chain := o.xff[:0]
	var lastProto []byte
	for k, v := range ctx.Request.Header.All() { // headers only: trailers never carry these
		switch {
		case bytes.EqualFold(k, xffHeader):
			if v = bytes.TrimSpace(v); len(v) > 0 {
				if len(chain) > 0 {
					chain = append(chain, ", "...)
				}
				chain = append(chain, v...)
			}
		case bytes.EqualFold(k, []byte("X-Forwarded-Proto")):
			lastProto = v
		}
	}
	o.client = ratelimit.ClientIP(peer, string(chain), trusted)
	if len(chain) > 0 {
		chain = append(chain, ", "...)
	}
	o.xff = peer.AppendTo(chain)
	if p := string(bytes.TrimSpace(lastProto)); !ctx.IsTLS() && (p == "https" || p == "http") {
		o.proto = p
	}
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
