// Command stubsso is the benchmark's fast stand-in for a cluster's SSO. POST …/oauth/token
// answers the seed's success JSON with 200; under the /fail/ prefix, or everywhere with
// --fail, it answers a fixed OAuth2 error with 400 (the "wrong password" path); under
// /norefresh/ a success without refresh_token. It does no
// work per request, so that what bench/ measures is the gateway in front of it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/valyala/fasthttp"
)

// The seed's success answer, less the fields the gateway adds (SPEC section 2).
var (
	successBody = []byte(`{"access_token":"3d3fe7ea-14ce-4783-9be2-50aa7d821c55","token_type":"bearer",` +
		`"refresh_token":"92427658-f13a-4dda-8345-36ec611fd943","expires_in":71830653,"scope":"all"}`)
	failBody = []byte(`{"error":"access_denied","error_description":"password not match!"}`)
	// noRefreshBody is a success without refresh_token: the gateway then writes no
	// refresh-token record, which isolates that write's cost (benchrun's experiments group).
	noRefreshBody = []byte(`{"access_token":"3d3fe7ea-14ce-4783-9be2-50aa7d821c55","token_type":"bearer",` +
		`"expires_in":71830653,"scope":"all"}`)

	tokenSuffix     = []byte("/oauth/token")
	failPrefix      = []byte("/fail/")
	noRefreshPrefix = []byte("/norefresh/")
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to listen on (loopback)")
	fail := flag.Bool("fail", false, "answer every token request with 400 access_denied")
	flag.Parse()

	handler := func(ctx *fasthttp.RequestCtx) {
		path := ctx.Path()
		if !bytes.HasSuffix(path, tokenSuffix) {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		if !ctx.IsPost() {
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			return
		}
		ctx.SetContentType("application/json;charset=UTF-8")
		if *fail || bytes.HasPrefix(path, failPrefix) {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBody(failBody)
			return
		}
		if bytes.HasPrefix(path, noRefreshPrefix) {
			ctx.SetBody(noRefreshBody)
			return
		}
		ctx.SetBody(successBody)
	}
	srv := &fasthttp.Server{Handler: handler, Name: "stubsso"}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Shutdown()
	}()
	if err := srv.ListenAndServe(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "stubsso:", err)
		os.Exit(1)
	}
}
