package tokenapi

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// tokenRequest is a token request parsed once (STYLE: parse once, dispatch small).
type tokenRequest struct {
	authorization []byte // the header as received, forwarded unchanged
	clientID      string
	grantType     string
	username      string // trimmed
	password      string
	clusterCode   string // trimmed
	client        string
	refreshToken  string
	fwd           fasthttp.Args // appendForwarded's scratch, kept with the request in its pool
}

func (r *tokenRequest) reset() {
	r.authorization, r.clientID, r.grantType, r.username, r.password = nil, "", "", "", ""
	r.clusterCode, r.client, r.refreshToken = "", "", ""
	r.fwd.Reset()
}

// maxParams bounds the parameters of one request; a token request has about eight.
const maxParams = 64

// parseRequest fills r from ctx, checking encoding, repetition and client credentials
// (SPEC section 2, check 1). grant-specific checks happen in the grant handlers.
func parseRequest(ctx *fasthttp.RequestCtx, r *tokenRequest) *gatewayError {
	// Problems with the parameters are reported after the client check: SPEC section 2 puts
	// invalid_client first.
	var problem *gatewayError
	if len(ctx.Request.Body()) > 0 && !isForm(ctx.Request.Header.ContentType()) {
		problem = errBadContentType
	}
	post := ctx.PostArgs() // empty unless the body is a form
	query := queryArgs(ctx)
	if post.Len()+query.Len() > maxParams {
		problem = cmp.Or(problem, errTooManyParams)
	}
	problem = cmp.Or(problem, checkArgs(post), checkArgs(query))

	raw := func(name string) []byte {
		if v := post.Peek(name); v != nil {
			return v
		}
		return query.Peek(name)
	}
	param := func(name string) string { return string(raw(name)) }
	if auth := ctx.Request.Header.Peek("Authorization"); len(auth) > 0 {
		r.authorization = auth
		id, ok := parseBasic(auth)
		if !ok {
			return errMalformedBasic
		}
		r.clientID = id
	} else if r.clientID = param("client_id"); r.clientID == "" {
		return errMissingClient
	}
	if problem != nil {
		return problem
	}

	r.grantType = grantWord(raw("grant_type"))
	r.username = strings.TrimSpace(param("username"))
	r.password = param("password")
	r.clusterCode = strings.TrimSpace(param("clusterCode"))
	r.client = param("client")
	r.refreshToken = param("refresh_token")
	return nil
}

// appendForwarded appends the form forwarded to the SSO: every parameter but clusterCode, the
// body's winning over the query's, username trimmed. Built only for a request that is
// forwarded: a directory answer needs none of it.
func (r *tokenRequest) appendForwarded(dst []byte, ctx *fasthttp.RequestCtx) []byte {
	post, query := ctx.PostArgs(), queryArgs(ctx)
	r.fwd.Reset()
	for k, v := range post.All() {
		if string(k) != "clusterCode" {
			r.fwd.AddBytesKV(k, v)
		}
	}
	for k, v := range query.All() {
		if string(k) != "clusterCode" && !post.Has(string(k)) {
			r.fwd.AddBytesKV(k, v)
		}
	}
	if r.fwd.Has("username") {
		r.fwd.Set("username", r.username)
	}
	return r.fwd.AppendBytes(dst)
}

// isTokenPath says whether the request is for /oauth/token. The request target as sent is
// enough when it is plainly that path: fasthttp's URI parse, with its path normalisation, cost
// 8 % of a directory answer's handler (BenchmarkHandlerDirectory). Any other form (absolute,
// dot segments, escapes) is left to the normalised path.
func isTokenPath(ctx *fasthttp.RequestCtx) bool {
	if p, _, _ := bytes.Cut(ctx.Request.Header.RequestURI(), []byte("?")); string(p) == "/oauth/token" {
		return true
	}
	return string(ctx.Path()) == "/oauth/token"
}

// noArgs is the query of a request target without one; only read.
var noArgs fasthttp.Args

// queryArgs is the request's query, without parsing the URI when the target has no '?'.
func queryArgs(ctx *fasthttp.RequestCtx) *fasthttp.Args {
	if bytes.IndexByte(ctx.Request.Header.RequestURI(), '?') < 0 {
		return &noArgs
	}
	return ctx.QueryArgs()
}

// grantTypes are the grant types the gateway knows by name (the access log names others
// "other").
var grantTypes = [...]string{"password", "refresh_token", "client_credentials", "authorization_code"}

// grantWord returns the grant type as a string, without allocating for the known ones.
func grantWord(v []byte) string {
	for _, g := range grantTypes {
		if string(v) == g {
			return g
		}
	}
	return string(v)
}

func isForm(contentType []byte) bool {
	mediaType, _, _ := bytes.Cut(contentType, []byte(";"))
	return bytes.EqualFold(bytes.TrimSpace(mediaType), []byte("application/x-www-form-urlencoded"))
}

// checkArgs rejects repeated parameters (RFC 6749 section 3.2: parameters MUST NOT be included
// more than once) and text that is not UTF-8.
func checkArgs(args *fasthttp.Args) *gatewayError {
	var seen [maxParams][]byte
	n := 0
	for k, v := range args.All() {
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return errBadEncoding
		}
		for _, s := range seen[:n] {
			if bytes.Equal(s, k) {
				return errRepeatedParam
			}
		}
		if n < maxParams {
			seen[n] = k
			n++
		}
	}
	return nil
}

// parseBasic decodes "Basic base64(id:secret)" and returns the client id; an empty id, a
// missing colon or another scheme is malformed (SPEC section 2, check 1).
func parseBasic(h []byte) (string, bool) {
	const prefix = "basic "
	if len(h) <= len(prefix) || !strings.EqualFold(string(h[:len(prefix)]), prefix) {
		return "", false
	}
	enc := bytes.TrimSpace(h[len(prefix):])
	var buf [512]byte
	if base64.StdEncoding.DecodedLen(len(enc)) > len(buf) {
		return "", false
	}
	n, err := base64.StdEncoding.Decode(buf[:], enc)
	if err != nil {
		return "", false
	}
	dec := buf[:n]
	id, _, ok := bytes.Cut(dec, []byte(":"))
	if !ok || len(id) == 0 || !utf8.Valid(dec) {
		return "", false
	}
	return string(id), true
}
