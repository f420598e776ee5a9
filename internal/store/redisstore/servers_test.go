package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// These helpers run real redis-server processes: a fake Redis proves nothing about Lua,
// listpack encodings, Cluster slots or Sentinel (STYLE.md, point 2). Every server listens on
// loopback only; the machine's shared Redis is only ever used with a unique key prefix.

// machineRedis is the Redis the standalone tests share (SSOGATE_TEST_REDIS overrides).
func machineRedis() string {
	if a := os.Getenv("SSOGATE_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// uniquePrefix keeps test runs and subtests from ever seeing each other's keys.
func uniquePrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ssogatetest:" + hex.EncodeToString(b) + ":"
}

// openStore opens a Store and registers its Close and the removal of its keys.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open(%v): %v", opts.Addrs, err)
	}
	t.Cleanup(func() {
		s.Close()
		deleteKeys(t, s.clientO, opts.Prefix)
	})
	return s
}

// deleteKeys removes every key under prefix on every node (SCAN is per node in Cluster).
func deleteKeys(t testing.TB, co rueidis.ClientOption, prefix string) {
	t.Helper()
	client, err := rueidis.NewClient(co)
	if err != nil {
		t.Logf("cleanup of %s*: %v", prefix, err)
		return
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for addr, node := range client.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Logf("cleanup of %s* on %s: %v", prefix, addr, err)
				break
			}
			for _, k := range e.Elements {
				node.Do(ctx, node.B().Unlink().Key(k).Build())
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
}

// requireTool fails (never skips) when a server binary is missing: CI installs it, and a
// skipped topology test would read as a pass.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH: install Redis (apt-get install redis-server) to run the Redis "+
			"Cluster, Sentinel and private-server tests", name)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// redisServer is a private redis-server child process.
type redisServer struct {
	addr string
	bin  string
	args []string
	cmd  *exec.Cmd
}

// startRedis starts a private, non-persistent redis-server on a free loopback port and stops
// it when the test ends. extra are further command-line options.
func startRedis(t *testing.T, extra ...string) *redisServer {
	t.Helper()
	bin := requireTool(t, "redis-server")
	dir := t.TempDir()
	port := freePort(t)
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	srv := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), bin: bin, args: args}
	srv.start(t)
	t.Cleanup(srv.kill)
	return srv
}

func (srv *redisServer) start(t *testing.T) {
	t.Helper()
	srv.cmd = exec.Command(srv.bin, srv.args...)
	if err := srv.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	waitRedis(t, srv.addr)
}

// kill stops the server at once, as a crash would.
func (srv *redisServer) kill() {
	if srv.cmd != nil && srv.cmd.Process != nil {
		srv.cmd.Process.Signal(os.Kill)
		srv.cmd.Wait()
		srv.cmd = nil
	}
}

// signal sends sig (SIGSTOP, SIGCONT) to the server.
func (srv *redisServer) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := srv.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal redis-server: %v", err)
	}
}

// waitRedis waits until addr answers PING.
func waitRedis(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", portOf(addr), "ping").Output()
		if err == nil && strings.TrimSpace(string(out)) == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis at %s did not answer PING within 10s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// redisCLI runs redis-cli against addr and returns its trimmed output.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", portOf(addr)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// startCluster starts a 3-master Redis Cluster with scripts/redis-cluster.sh and returns the
// addresses of its masters.
func startCluster(t *testing.T) []string {
	t.Helper()
	requireTool(t, "redis-server")
	requireTool(t, "redis-cli")
	// go test runs in the package directory.
	script := filepath.Join("..", "..", "..", "scripts", "redis-cluster.sh")
	dir := t.TempDir()
	base := 0
	for try := 0; try < 50 && base == 0; try++ {
		// Below the ephemeral range (32768 up on Linux), bus ports (+10000) included: on a
		// busy machine thousands of outgoing connections hold ports there.
		n, _ := rand.Int(rand.Reader, big.NewInt(10000))
		b := 12000 + int(n.Int64())
		if portFree(b) && portFree(b+1) && portFree(b+2) && portFree(b+10000) && portFree(b+10001) && portFree(b+10002) {
			base = b
		}
	}
	if base == 0 {
		t.Fatal("no free run of ports for a Redis Cluster")
	}
	run := func(cmd string) error {
		out, err := exec.Command("bash", script, cmd, dir, strconv.Itoa(base)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v: %s", script, cmd, err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		if err := run("stop"); err != nil {
			t.Error(err)
		}
	})
	if err := run("start"); err != nil {
		t.Fatal(err)
	}
	return []string{
		"127.0.0.1:" + strconv.Itoa(base), "127.0.0.1:" + strconv.Itoa(base+1), "127.0.0.1:" + strconv.Itoa(base+2),
	}
}

// startSentinel starts a master and one Sentinel watching it as "ssogate-test", and returns
// the Sentinel's address and the master.
func startSentinel(t *testing.T) (sentinel string, master *redisServer) {
	t.Helper()
	master = startRedis(t)
	bin := requireTool(t, "redis-server")
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor ssogate-test 127.0.0.1 %s 1\nsentinel down-after-milliseconds ssogate-test 5000\n",
		port, dir, filepath.Join(dir, "sentinel.log"), portOf(master.addr))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// Sentinel rewrites its configuration file, hence a file of its own in the temp dir.
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Kill)
		cmd.Wait()
	})
	sentinel = "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
			"sentinel", "get-master-addr-by-name", "ssogate-test").Output()
		if strings.Contains(string(out), portOf(master.addr)) {
			return sentinel, master
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel on %s does not report the master within 10s: %q", sentinel, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
