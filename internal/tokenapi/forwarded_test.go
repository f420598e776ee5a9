package tokenapi

import (
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

func requestFrom(peer string, headers ...string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}, nil)
	return &ctx
}

// TestDeriveOrigin pins SPEC section 2 step 6: client address, forwarded chain and proto from
// one derivation.
func TestDeriveOrigin(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name               string
		trusted            []netip.Prefix
		peer               string
		headers            []string
		client, xff, proto string
	}{
		{"no proxies: the peer, XFF replaced", nil, "192.0.2.1",
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https"}, "192.0.2.1", "192.0.2.1", "http"},
		{"untrusted peer: replaced, not appended", proxies, "192.0.2.1",
			[]string{"X-Forwarded-For", "6.6.6.6"}, "192.0.2.1", "192.0.2.1", "http"},
		// RFC 9110 section 5.3: two lines are one list; the proxy's line is the last.
		{"trusted proxy, two lines", proxies, "10.0.0.2",
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https"},
			"203.0.113.9", "6.6.6.6, 203.0.113.9, 10.0.0.2", "https"},
		{"trusted proxy, chain of proxies", proxies, "10.0.0.2",
			[]string{"X-Forwarded-For", "203.0.113.9, 10.0.0.7"}, "203.0.113.9", "203.0.113.9, 10.0.0.7, 10.0.0.2", "http"},
		{"trusted proxy, no header", proxies, "10.0.0.2", nil, "10.0.0.2", "10.0.0.2", "http"},
		{"trusted proxy, nonsense proto ignored", proxies, "10.0.0.2",
			[]string{"X-Forwarded-Proto", "gopher"}, "10.0.0.2", "10.0.0.2", "http"},
		{"IPv4-mapped peer", proxies, "::ffff:10.0.0.2",
			[]string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9", "203.0.113.9, 10.0.0.2", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{TrustedProxies: tc.trusted})
			var o origin
			h.deriveOrigin(requestFrom(tc.peer, tc.headers...), &o)
			if o.client.String() != tc.client || string(o.appendXFF(nil)) != tc.xff || o.proto != tc.proto {
				t.Fatalf("got client %s, xff %q, proto %q; want %s, %q, %q", o.client, o.appendXFF(nil), o.proto, tc.client, tc.xff, tc.proto)
			}
		})
	}
}

// TestSetTrustedProxies pins the reload hook: the new list applies to the next request, and
// replacing it while requests are derived is safe (go test -race).
func TestSetTrustedProxies(t *testing.T) {
	h := New(Options{})
	ctx := requestFrom("10.0.0.2", "X-Forwarded-For", "203.0.113.9")
	var o origin
	h.deriveOrigin(ctx, &o)
	if o.client.String() != "10.0.0.2" {
		t.Fatalf("before: %s", o.client)
	}
	h.SetTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	h.deriveOrigin(ctx, &o)
	if o.client.String() != "203.0.113.9" || len(h.TrustedProxies()) != 1 {
		t.Fatalf("after: %s", o.client)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				if i == 0 {
					h.SetTrustedProxies(nil)
					h.SetTrustedProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
					continue
				}
				var o origin
				h.deriveOrigin(requestFrom("10.0.0.2", "X-Forwarded-For", "203.0.113.9"), &o)
			}
		})
	}
	wg.Wait()
}
