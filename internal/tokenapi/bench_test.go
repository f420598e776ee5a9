package tokenapi

// Micro-benchmarks of the token endpoint's hot path (STYLE: benchmarks sit beside the code
// they measure; whole-system load tests live in bench/). Run with
//
//	go test -run '^$' -bench . -benchmem ./internal/tokenapi
//
// The handler benchmarks feed raw HTTP/1.1 bytes through fasthttp's request parser into an
// in-memory RequestCtx, run the Handler as the gateway wires it (embedded store, directory,
// limiter, metrics recorder, JSON access log to io.Discard) and write the answer to a
// discarding buffer: everything the public listener does per request except the socket.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/ssogate/ssogate/internal/directory"
	"github.com/ssogate/ssogate/internal/metrics"
	"github.com/ssogate/ssogate/internal/ratelimit"
	"github.com/ssogate/ssogate/internal/sso"
	"github.com/ssogate/ssogate/internal/store/embedded"
)

var stubAnswer = []byte(`{"access_token":"3d3fe7ea-14ce-4783-9be2-50aa7d821c55","token_type":"bearer",` +
	`"refresh_token":"92427658-f13a-4dda-8345-36ec611fd943","expires_in":71830653,"scope":"all"}`)

// startStubSSO serves the seed's success answer on a loopback port, as bench/cmd/stubsso does.
func startStubSSO(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json;charset=UTF-8")
		ctx.SetBody(stubAnswer)
	}}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

type benchGateway struct {
	h   *Handler
	dir *directory.Directory
}

// newBenchGateway wires a Handler the way internal/gateway does for the embedded store.
func newBenchGateway(b *testing.B, rateLimit bool) *benchGateway {
	b.Helper()
	store, err := embedded.Open(filepath.Join(b.TempDir(), "ssogate.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	ctx := context.Background()
	dir := directory.New(store, directory.Options{})
	sso1 := startStubSSO(b)
	for _, c := range []directory.Cluster{
		{Code: "STUB", Name: "桩一", SSOURL: sso1 + "/sso", ServerURL: sso1 + "/server", Enabled: true},
		{Code: "STUB2", Name: "桩二", SSOURL: sso1 + "/sso", ServerURL: sso1 + "/server", Enabled: true},
	} {
		if _, err := dir.PutCluster(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := dir.ReloadClusters(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bind := range [][2]string{{"alice", "STUB"}, {"carol", "STUB"}, {"carol", "STUB2"}} {
		if err := dir.Bind(ctx, directory.NamespaceUser, bind[0], bind[1]); err != nil {
			b.Fatal(err)
		}
	}
	var limiter *ratelimit.Limiter
	if rateLimit {
		limiter = ratelimit.New(nil, ratelimit.Options{}) // the embedded store: this instance counts alone
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := New(Options{
		Directory: dir, Forwarder: sso.New(sso.Options{}), Refresh: store, Limiter: limiter,
		Recorder: metrics.New(), Logger: logger, AccessLog: true, RefreshLocal: true, AccessJSON: io.Discard, // as cmd/ssogate wires it
	})
	b.Cleanup(h.Close)
	return &benchGateway{h: h, dir: dir}
}

func rawRequest(body string) []byte {
	basic := base64.StdEncoding.EncodeToString([]byte("app:app-secret"))
	return []byte("POST /oauth/token HTTP/1.1\r\nHost: gateway\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\n" +
		"Authorization: Basic " + basic + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// serveRaw runs b.N requests through parser, handler and response writer, and checks the
// last answer.
func (g *benchGateway) serveRaw(b *testing.B, raw []byte, want string) {
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	src := bytes.NewReader(raw)
	br := bufio.NewReader(src)
	bw := bufio.NewWriter(io.Discard)
	serve := func() {
		src.Reset(raw)
		br.Reset(src)
		ctx.Request.Reset()
		ctx.Response.Reset()
		if err := ctx.Request.Read(br); err != nil {
			b.Fatal(err)
		}
		g.h.ServeFastHTTP(&ctx)
		if err := ctx.Response.Write(bw); err != nil {
			b.Fatal(err)
		}
		bw.Flush()
	}
	serve() // warms the cache and the SSO connection
	if !bytes.Contains(ctx.Response.Body(), []byte(want)) {
		b.Fatalf("answer %s lacks %s", ctx.Response.Body(), want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		serve()
	}
	b.StopTimer()
	if !bytes.Contains(ctx.Response.Body(), []byte(want)) {
		b.Fatalf("answer %s lacks %s", ctx.Response.Body(), want)
	}
}

// BenchmarkHandlerDirectory: answers from the directory on cache hits (SPEC section 7's first
// target).
func BenchmarkHandlerDirectory(b *testing.B) {
	for _, c := range []struct{ name, body, want string }{
		{"1004", "grant_type=password&username=nobody&password=secret", `"code":1004`},
		{"1000", "grant_type=password&username=carol&password=secret", `"code":1000`},
		{"1001", "grant_type=password&username=alice&password=secret&clusterCode=STUB2", `"code":1001`},
	} {
		b.Run(c.name, func(b *testing.B) {
			newBenchGateway(b, false).serveRaw(b, rawRequest(c.body), c.want)
		})
	}
}

// BenchmarkHandlerLogin: a successful login forwarded to a stub SSO on loopback, with the
// limiter at its default (on) and off. Time per op includes the loopback round trip.
func BenchmarkHandlerLogin(b *testing.B) {
	for _, rl := range []bool{true, false} {
		b.Run("ratelimit="+strconv.FormatBool(rl), func(b *testing.B) {
			newBenchGateway(b, rl).serveRaw(b,
				rawRequest("grant_type=password&username=alice&password=secret"), `"code":200`)
		})
	}
}

// BenchmarkParseRequest: form and Basic parsing into tokenRequest, from an already read
// fasthttp request.
func BenchmarkParseRequest(b *testing.B) {
	var ctx fasthttp.RequestCtx
	raw := rawRequest("grant_type=password&username=alice&password=secret&clusterCode=STUB2")
	if err := ctx.Request.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	body := append([]byte(nil), ctx.Request.Body()...)
	var r tokenRequest
	b.ReportAllocs()
	for range b.N {
		ctx.Request.SetBody(body) // drops the parsed form, so each round parses again
		if e := parseRequest(&ctx, &r); e != nil {
			b.Fatal(e.description)
		}
		r.reset()
	}
}

// BenchmarkEncode: the answers written from values (STYLE: answers written in one place).
func BenchmarkEncode(b *testing.B) {
	cluster := directory.Cluster{Code: "TEST0525", Name: "测试用", SSOURL: "http://39.102.45.111:9000/sso",
		ServerURL: "http://39.102.45.111:9000/server"}
	choices := []directory.Cluster{{Code: "BJEDU", Name: "北京市教委环境"}, cluster}
	buf := make([]byte, 0, 1024)
	b.Run("1004", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			buf = appendNoData(buf[:0], CodeUnknownUser, msgUnknownUser)
		}
	})
	b.Run("1000", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			buf = appendChoices(buf[:0], choices)
		}
	})
	b.Run("200", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var obj ssoObject
			if !parseSSOObject(stubAnswer, &obj) {
				b.Fatal("stub answer not parsed")
			}
			buf = appendSuccess(buf[:0], &obj, &cluster)
		}
	})
}

// BenchmarkHandlerDirectoryParallel: the 1004 answer from all cores at once, to show
// contention (cache shard locks, metrics counters) that the serial benchmark cannot.
func BenchmarkHandlerDirectoryParallel(b *testing.B) {
	g := newBenchGateway(b, false)
	raw := rawRequest("grant_type=password&username=nobody&password=secret")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
		src := bytes.NewReader(raw)
		br := bufio.NewReader(src)
		bw := bufio.NewWriter(io.Discard)
		for pb.Next() {
			src.Reset(raw)
			br.Reset(src)
			ctx.Request.Reset()
			ctx.Response.Reset()
			if err := ctx.Request.Read(br); err != nil {
				b.Error(err)
				return
			}
			g.h.ServeFastHTTP(&ctx)
			ctx.Response.Write(bw)
			bw.Flush()
		}
	})
}
