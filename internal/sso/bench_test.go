package sso

// Micro-benchmark of forwarding one token request to an SSO on loopback (the pooled
// fasthttp.HostClient, breaker and in-flight bound). Run with
//
//	go test -run '^$' -bench . -benchmem ./internal/sso

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/directory"
)

func BenchmarkForward(b *testing.B) {
	answer := []byte(`{"access_token":"3d3fe7ea-14ce-4783-9be2-50aa7d821c55","token_type":"bearer",` +
		`"refresh_token":"92427658-f13a-4dda-8345-36ec611fd943","expires_in":71830653,"scope":"all"}`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json;charset=UTF-8")
		ctx.SetBody(answer)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	base := "http://" + ln.Addr().String()
	c := &directory.Cluster{Code: "STUB", SSOURL: base + "/sso", ServerURL: base + "/server", Enabled: true}
	f := New(Options{})
	call := &Call{
		Body:          []byte("grant_type=password&username=alice&password=secret"),
		Authorization: []byte("Basic YXBwOmFwcC1zZWNyZXQ="),
		ForwardedFor:  []byte("127.0.0.1"),
		Proto:         "http",
		RequestID:     "0123456789abcdef",
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := f.Forward(c, call, resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			for pb.Next() {
				if err := f.Forward(c, call, resp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
