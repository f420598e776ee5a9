// Command benchrun is the side-by-side load benchmark behind bench/run.sh: it starts a stub
// SSO, a bare net/http server, nginx and ssogate gateways on loopback ports, measures them
// alternately with wrk (throughput) and bench/cmd/load (latency at a fixed rate), checks every
// gateway answer through the gateway's own metrics, and prints the table of SPEC section 7's
// targets. Every process it starts is stopped when it ends, whatever the reason.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type suite struct {
	binDir, work, out  string
	wrk, nginx         string
	caddy              string // empty: the Caddy rows are skipped
	luaScript          string
	duration, warmup   time.Duration
	latDuration        time.Duration
	rounds             int
	threads, conns     int
	nginxWorkers       int
	redis              string
	groups             map[string]bool
	stubPort, barePort int
	nginxPort          int
	bareFastPort       int
	bareFastGwPort     int
	caddyPort          int
	procs              *procs
	stubProc, bareProc *proc
	nginxProc          *proc
	bareFastProc       *proc
	bareFastGwProc     *proc
	caddyProc          *proc
	log                io.Writer
	rows               []row
	notes              []string
	results            map[string]any
}

func main() {
	s := &suite{procs: &procs{}, results: map[string]any{}}
	var groups string
	flag.StringVar(&s.binDir, "bin", "", "directory with the built ssogate, stubsso, bare and load binaries")
	flag.StringVar(&s.work, "work", "", "scratch directory (configs, stores, nginx); default a new temp dir")
	flag.StringVar(&s.out, "out", "", "directory for results.json and table.txt (optional)")
	flag.StringVar(&s.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&s.nginx, "nginx", "nginx", "nginx binary")
	flag.StringVar(&s.caddy, "caddy", "", "caddy binary (reverse_proxy baseline); empty skips it")
	flag.StringVar(&s.luaScript, "lua", "bench/wrk/post.lua", "wrk script")
	flag.DurationVar(&s.duration, "duration", 10*time.Second, "length of each measured wrk run")
	flag.DurationVar(&s.latDuration, "lat-duration", 10*time.Second, "length of each fixed-rate latency run")
	flag.DurationVar(&s.warmup, "warmup", 2*time.Second, "unmeasured wrk run per target before a group")
	flag.IntVar(&s.rounds, "rounds", 3, "alternating rounds per group (the median is reported)")
	flag.IntVar(&s.threads, "threads", 2, "wrk threads")
	flag.IntVar(&s.conns, "conns", 64, "connections (wrk and load)")
	flag.IntVar(&s.nginxWorkers, "nginx-workers", runtime.NumCPU(), "nginx worker_processes (default: one per core, as the gateway's GOMAXPROCS)")
	flag.StringVar(&s.redis, "redis", "127.0.0.1:6379", "Redis for the redis-store scenarios; empty skips them")
	flag.StringVar(&groups, "groups", "directory,forward,latency,redis", "groups to run: directory, forward, latency, redis; experiments, tracing (not by default)")
	flag.StringVar(&s.procs.pidFile, "pidfile", "", "file listing the process groups started (for run.sh's trap)")
	flag.Parse()
	s.groups = map[string]bool{}
	for _, g := range strings.Split(groups, ",") {
		s.groups[strings.TrimSpace(g)] = true
	}
	s.log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := s.run(ctx)
	s.procs.stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func (s *suite) bin(name string) string { return filepath.Join(s.binDir, name) }

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

func (s *suite) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.notes = append(s.notes, msg)
	s.logf("%s", msg)
}

func (s *suite) run(ctx context.Context) error {
	if s.binDir == "" {
		return errors.New("--bin is required")
	}
	if s.work == "" {
		dir, err := os.MkdirTemp("", "ssogate-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s.work = dir
	}
	start := time.Now()
	if err := s.startBaselines(ctx); err != nil {
		return err
	}
	if err := s.embeddedGroups(ctx); err != nil {
		return err
	}
	if s.groups["redis"] {
		if err := s.redisGroups(ctx); err != nil {
			return err
		}
	}
	if s.groups["tracing"] {
		if err := s.tracingGroup(ctx); err != nil {
			return err
		}
	}
	if s.groups["experiments"] {
		if err := s.experimentsGroup(ctx); err != nil {
			return err
		}
	}
	s.results["elapsed_seconds"] = time.Since(start).Seconds()
	table := s.table()
	fmt.Print(table)
	if s.out != "" {
		if err := os.MkdirAll(s.out, 0o755); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(s.out, "table.txt"), []byte(table), 0o644)
		b, _ := json.MarshalIndent(s.results, "", "  ")
		os.WriteFile(filepath.Join(s.out, "results.json"), b, 0o644)
	}
	return nil
}

// startBaselines starts the stub SSO, the bare server and nginx.
func (s *suite) startBaselines(ctx context.Context) error {
	var err error
	if s.stubPort, err = freePort(); err != nil {
		return err
	}
	stubAddr := fmt.Sprintf("127.0.0.1:%d", s.stubPort)
	stub, err := s.procs.start("stubsso", s.bin("stubsso"), []string{"--listen", stubAddr}, cleanEnv(), nil)
	if err != nil {
		return err
	}
	if err := waitTCP(stub, stubAddr, 10*time.Second); err != nil {
		return err
	}
	s.stubProc = stub
	if s.barePort, err = freePort(); err != nil {
		return err
	}
	bareAddr := fmt.Sprintf("127.0.0.1:%d", s.barePort)
	bare, err := s.procs.start("bare", s.bin("bare"), []string{"--listen", bareAddr}, cleanEnv(), nil)
	if err != nil {
		return err
	}
	if err := waitTCP(bare, bareAddr, 10*time.Second); err != nil {
		return err
	}
	s.bareProc = bare
	if s.nginxPort, err = freePort(); err != nil {
		return err
	}
	dir := filepath.Join(s.work, "nginx")
	conf, err := writeNginxConf(dir, s.nginxWorkers, s.nginxPort, s.stubPort)
	if err != nil {
		return err
	}
	ng, err := s.procs.start("nginx", s.nginx, []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "logs", "error.log")}, cleanEnv(), nil)
	if err != nil {
		return err
	}
	if err := waitTCP(ng, fmt.Sprintf("127.0.0.1:%d", s.nginxPort), 10*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	s.nginxProc = ng
	if s.bareFastPort, err = freePort(); err != nil {
		return err
	}
	bareFastAddr := fmt.Sprintf("127.0.0.1:%d", s.bareFastPort)
	bf, err := s.procs.start("barefast", s.bin("barefast"), []string{"--listen", bareFastAddr}, cleanEnv(), nil)
	if err != nil {
		return err
	}
	if err := waitTCP(bf, bareFastAddr, 10*time.Second); err != nil {
		return err
	}
	s.bareFastProc = bf
	if s.bareFastGwPort, err = freePort(); err != nil {
		return err
	}
	bfgAddr := fmt.Sprintf("127.0.0.1:%d", s.bareFastGwPort)
	bfg, err := s.procs.start("barefast-gw", s.bin("barefast"), []string{"--listen", bfgAddr, "--gateway-settings"}, cleanEnv(), nil)
	if err != nil {
		return err
	}
	if err := waitTCP(bfg, bfgAddr, 10*time.Second); err != nil {
		return err
	}
	s.bareFastGwProc = bfg
	if err := s.startCaddy(ctx); err != nil {
		return err
	}
	s.logf("stub SSO %s, bare %s, bare fasthttp %s, nginx 127.0.0.1:%d (%d workers), caddy %s", stubAddr, bareAddr,
		bareFastAddr, s.nginxPort, s.nginxWorkers, map[bool]string{true: fmt.Sprintf("127.0.0.1:%d", s.caddyPort), false: "skipped"}[s.caddyProc != nil])
	return nil
}

// startCaddy starts Caddy's reverse_proxy to the stub when --caddy names a binary.
func (s *suite) startCaddy(ctx context.Context) error {
	if s.caddy == "" {
		s.note("caddy not given (--caddy): the Caddy reverse_proxy rows are skipped")
		return nil
	}
	var err error
	if s.caddyPort, err = freePort(); err != nil {
		return err
	}
	dir := filepath.Join(s.work, "caddy")
	conf, err := writeCaddyfile(dir, s.caddyPort, s.stubPort)
	if err != nil {
		return err
	}
	var logBuf bytes.Buffer
	cp, err := s.procs.start("caddy", s.caddy, []string{"run", "--config", conf, "--adapter", "caddyfile"}, caddyEnv(dir), &logBuf)
	if err != nil {
		return err
	}
	if err := waitTCP(cp, fmt.Sprintf("127.0.0.1:%d", s.caddyPort), 20*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, logBuf.String())
	}
	s.caddyProc = cp
	return nil
}
