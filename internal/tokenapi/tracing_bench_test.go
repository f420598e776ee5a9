package tokenapi

import (
	"context"
	"testing"

	"github.com/ssogate/ssogate/internal/sso"
	"github.com/ssogate/ssogate/internal/tracing"
)

// BenchmarkHandlerTracing: the cost of tracing on the hot path (SPEC section 11: off costs
// nothing measurable). "off" is the Handler as wired without tracing — compare its ns/op and
// allocs/op with BenchmarkHandlerLogin and BenchmarkHandlerDirectory; "on" exports every
// (ratio 1) or one in a hundred (0.01) trace over OTLP/HTTP to a sink on loopback.
//
//	go test -run '^$' -bench HandlerTracing -benchmem ./internal/tokenapi
func BenchmarkHandlerTracing(b *testing.B) {
	for _, c := range []struct{ name, body, want string }{
		{"login", "grant_type=password&username=alice&password=secret", `"code":200`},
		{"1004", "grant_type=password&username=nobody&password=secret", `"code":1004`},
	} {
		for _, mode := range []struct {
			name  string
			on    bool
			ratio float64
		}{{"off", false, 0}, {"ratio=1", true, 1}, {"ratio=0.01", true, 0.01}} {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				g := newBenchGateway(b, c.name == "login") // the limiter would lock 1004s out
				if mode.on {
					g = g.traced(b, mode.ratio)
				}
				g.serveRaw(b, rawRequest(c.body), c.want)
			})
		}
	}
}

// traced returns g's handler rebuilt with tracing wired as internal/gateway wires it.
func (g *benchGateway) traced(b *testing.B, ratio float64) *benchGateway {
	b.Helper()
	sink, err := tracing.NewSink("127.0.0.1:0", false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sink.Close() })
	tr, err := tracing.New(tracing.Config{OTLPEndpoint: sink.URL(), SampleRatio: ratio})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		tr.Shutdown(context.Background())
		b.ReportMetric(float64(sink.Count()), "spans")
	})
	opts := g.h.opts
	opts.Tracer = tr
	opts.Directory = tr.WrapResolver(g.dir)
	opts.Forwarder = tr.WrapForwarder(opts.Forwarder.(*sso.Forwarder))
	opts.Refresh = tr.WrapRefresh(opts.Refresh)
	h := New(opts)
	b.Cleanup(h.Close)
	return &benchGateway{h: h, dir: g.dir}
}
