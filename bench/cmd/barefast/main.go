// Command barefast is the benchmark's ceiling on ssogate's own HTTP stack: a bare fasthttp
// handler that parses the form body as the gateway does (grant_type, username, password, an
// optional clusterCode) and answers a fixed JSON body of the same size as the gateway's 1004
// answer, with the same headers. SPEC section 7 sets directory answers against it (≥ 0.90×).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// body is byte for byte the gateway's 1004 answer (the seed's text), so both write as much.
var (
	body    = []byte(`{"code":1004,"success":false,"data":null,"message":"用户不存在"}`)
	badBody = []byte(`{"code":1002,"success":false,"data":null,"message":"参数错误"}`)
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18082", "address to listen on (loopback)")
	gatewaySettings := flag.Bool("gateway-settings", false,
		"serve with the gateway's slow-client settings (header and body read timeouts, write and idle timeouts, 16 KiB read buffer), to tell their cost from the handler's")
	flag.Parse()
	handler := func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentType("application/json;charset=UTF-8")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.Response.Header.Set("Pragma", "no-cache")
		// The same form parse the gateway does before it looks a username up.
		args := ctx.PostArgs()
		if len(args.Peek("grant_type")) == 0 || len(args.Peek("username")) == 0 ||
			len(args.Peek("password")) == 0 {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBody(badBody)
			return
		}
		_ = args.Peek("clusterCode")
		ctx.SetBody(body)
	}
	srv := &fasthttp.Server{Handler: handler, Name: "barefast", NoDefaultServerHeader: true,
		DisablePreParseMultipartForm: true}
	if *gatewaySettings {
		// The defaults of internal/config as internal/tokenapi.NewServer applies them.
		srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 10*time.Second, 15*time.Second, 60*time.Second
		srv.ReadBufferSize = 16 << 10
		srv.MaxRequestBodySize = 1 << 20
		srv.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: 15 * time.Second}
		}
		srv.CloseOnShutdown = true
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Shutdown()
	}()
	if err := srv.ListenAndServe(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "barefast:", err)
		os.Exit(1)
	}
}
