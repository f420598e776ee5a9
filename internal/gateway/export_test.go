package gateway

import "net/netip"

// TrustedProxiesInEffect exposes the token endpoint's trusted proxies to the reload tests.
func (g *Gateway) TrustedProxiesInEffect() []netip.Prefix { return g.token.TrustedProxies() }
