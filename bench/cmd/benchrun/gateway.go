package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const adminToken = "bench-admin-token"

// gwSpec is one gateway configuration of the suite.
type gwSpec struct {
	name        string
	rateLimit   bool
	redis       string // redis address; empty: embedded store
	redisPrefix string
	cacheSize   int      // 0: the default
	logLevel    string   // default info (one access line per request, as deployed)
	env         []string // extra environment (GOGC, GOMAXPROCS experiments)
	// otlpEndpoint turns tracing on (tracing group), sampled at sampleRatio.
	otlpEndpoint string
	sampleRatio  float64
	binary       string // another ssogate binary (tracing group's baseline); empty: the built one
}

// gateway is a running `ssogate serve`.
type gateway struct {
	spec              gwSpec
	proc              *proc
	public, adminAddr string
}

// errRedisNotBuilt is returned when the gateway binary does not know store.driver: redis yet.
var errRedisNotBuilt = errors.New("redis store not built yet")

// writeConfig writes the gateway's YAML file: every key not set here keeps its default.
func (s *suite) writeConfig(spec gwSpec, publicPort, adminPort int) (string, error) {
	dir := filepath.Join(s.work, spec.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var b strings.Builder
	level := spec.logLevel
	if level == "" {
		level = "info"
	}
	fmt.Fprintf(&b, "listen: 127.0.0.1:%d\nadmin_listen: 127.0.0.1:%d\nadmin_token: %s\nlog_level: %s\n",
		publicPort, adminPort, adminToken, level)
	if spec.redis != "" {
		fmt.Fprintf(&b, "store:\n  driver: redis\n  redis_addrs: [%q]\n  redis_prefix: %q\n", spec.redis, spec.redisPrefix)
	} else {
		fmt.Fprintf(&b, "store:\n  driver: embedded\n  path: %q\n", filepath.Join(dir, "ssogate.db"))
	}
	if spec.cacheSize > 0 {
		fmt.Fprintf(&b, "cache:\n  size: %d\n", spec.cacheSize)
	}
	fmt.Fprintf(&b, "ratelimit:\n  enabled: %t\n", spec.rateLimit)
	if spec.otlpEndpoint != "" {
		fmt.Fprintf(&b, "tracing:\n  otlp_endpoint: %s\n  sample_ratio: %g\n", spec.otlpEndpoint, spec.sampleRatio)
	}
	stub := fmt.Sprintf("http://127.0.0.1:%d", s.stubPort)
	fmt.Fprintf(&b, "clusters:\n")
	for _, c := range []struct{ code, name, path string }{
		{"STUB", "桩一", "/sso"}, {"STUB2", "桩二", "/sso"}, {"FAIL", "密码错误桩", "/fail"},
		{"NOREF", "无刷新令牌桩", "/norefresh"},
	} {
		fmt.Fprintf(&b, "  - code: %s\n    name: %s\n    sso_url: %s%s\n    server_url: %s/server\n",
			c.code, c.name, stub, c.path, stub)
	}
	path := filepath.Join(dir, "ssogate.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// startGateway starts one gateway and waits for /readyz. When it dies during start it is
// started once more with its log captured, to say why.
func (s *suite) startGateway(ctx context.Context, spec gwSpec) (*gateway, error) {
	pub, err := freePort()
	if err != nil {
		return nil, err
	}
	adm, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := s.writeConfig(spec, pub, adm)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--config", cfg}
	env := append(cleanEnv(), spec.env...)
	p, err := s.procs.start("ssogate "+spec.name, s.gatewayBin(spec), args, env, nil)
	if err != nil {
		return nil, err
	}
	g := &gateway{spec: spec, proc: p, public: fmt.Sprintf("127.0.0.1:%d", pub), adminAddr: fmt.Sprintf("127.0.0.1:%d", adm)}
	if err := waitHTTP(ctx, p, "http://"+g.adminAddr+"/readyz", 15*time.Second); err != nil {
		s.procs.stop(p)
		var log bytes.Buffer
		if q, err2 := s.procs.start("ssogate "+spec.name+" (log)", s.gatewayBin(spec), args, env, &log); err2 == nil {
			select {
			case <-q.done:
			case <-time.After(5 * time.Second):
			}
			s.procs.stop(q)
		}
		msg := log.String()
		if spec.redis != "" && (strings.Contains(msg, "not supported") || strings.Contains(msg, "redis")) &&
			strings.Contains(msg, "store.driver") {
			return nil, errRedisNotBuilt
		}
		return nil, fmt.Errorf("%w\n%s", err, lastLines(msg, 10))
	}
	return g, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// admin sends one admin API request and returns the body; a non-2xx answer is an error.
func (g *gateway) admin(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+g.adminAddr+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}

// bind binds one user.
func (g *gateway) bind(ctx context.Context, code, user string) error {
	_, err := g.admin(ctx, http.MethodPut, "/admin/clusters/"+code+"/users/"+user, "", nil)
	return err
}

// bulkBind binds prefix0…prefix(n-1) through the bulk import.
func (g *gateway) bulkBind(ctx context.Context, code, prefix string, n int) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		for i := range n {
			w.WriteString(prefix)
			w.WriteString(strconv.Itoa(i))
			w.WriteByte('\n')
		}
		pw.CloseWithError(w.Flush())
	}()
	out, err := g.admin(ctx, http.MethodPost, "/admin/clusters/"+code+"/users", "text/plain", pr)
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte(fmt.Sprintf(`"bound":%d`, n))) {
		return fmt.Errorf("bulk bind %s%d…: %s", prefix, n, out)
	}
	return nil
}

// snapshot is what /metrics says at one moment, reduced to what the checks need.
type snapshot struct {
	byCode                                    map[string]float64
	misses, hits, refreshFailures, rejections float64
}

func (g *gateway) metrics(ctx context.Context) (snapshot, error) {
	snap := snapshot{byCode: map[string]float64{}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.adminAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return snap, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := cutLast(line)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "ssogate_token_requests_total{"):
			i := strings.Index(name, `code="`)
			if i < 0 {
				continue
			}
			code, _, _ := strings.Cut(name[i+6:], `"`)
			snap.byCode[code] += value
		case name == "ssogate_directory_cache_misses_total":
			snap.misses = value
		case name == "ssogate_directory_cache_hits_total":
			snap.hits = value
		case name == "ssogate_refresh_record_failures_total":
			snap.refreshFailures = value
		case name == "ssogate_ratelimit_rejected_total":
			snap.rejections = value
		}
	}
	return snap, sc.Err()
}

func cutLast(line string) (string, float64, bool) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	return line[:i], v, err == nil
}
