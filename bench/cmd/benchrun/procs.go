package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process benchrun started (stub, bare, nginx, a gateway). Each gets its own
// process group, so that nginx's workers stop with their master, and its id is written to the
// pid file run.sh's trap reads: whatever happens to benchrun, run.sh ends exactly these.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

type procs struct {
	mu      sync.Mutex
	list    []*proc
	pidFile string
}

// start runs bin with args, stdout and stderr to /dev/null (gateways log one line per
// request; the log is encoded either way, as in production, only not kept).
func (ps *procs) start(name, bin string, args []string, env []string, stderr *bytes.Buffer) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if stderr != nil {
		cmd.Stderr = stderr
		cmd.Stdout = stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.writePIDs()
	ps.mu.Unlock()
	return p, nil
}

func (ps *procs) writePIDs() {
	if ps.pidFile == "" {
		return
	}
	var b strings.Builder
	for _, p := range ps.list {
		fmt.Fprintf(&b, "%d\n", p.cmd.Process.Pid)
	}
	os.WriteFile(ps.pidFile, []byte(b.String()), 0o600)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after a grace period.
func (ps *procs) stop(p *proc) {
	if p == nil {
		return
	}
	if !p.exited() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	ps.mu.Lock()
	for i, q := range ps.list {
		if q == p {
			ps.list = append(ps.list[:i], ps.list[i+1:]...)
			break
		}
	}
	ps.writePIDs()
	ps.mu.Unlock()
}

func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := append([]*proc(nil), ps.list...)
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		ps.stop(list[i])
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections, p exits, or the timeout.
func waitTCP(p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s not listening after %s", p.name, addr, timeout)
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error = errors.New("no answer")
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s not ready after %s: %v", p.name, url, timeout, last)
}

// cleanEnv is the environment without SSOGATE_* variables, so the caller's shell cannot
// change what the generated configuration says.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSOGATE_") {
			out = append(out, kv)
		}
	}
	return out
}
