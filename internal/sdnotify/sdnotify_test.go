package sdnotify_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/sdnotify"
)

// listen opens a real unix datagram socket, as systemd does for a Type=notify unit.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifyOverRealSockets(t *testing.T) {
	tests := []struct{ name, socket, listenAt string }{
		{"path socket", filepath.Join(t.TempDir(), "notify"), ""},
		// systemd passes abstract sockets as "@name".
		{"abstract socket", "@ssogate-test-" + strings.ReplaceAll(t.Name(), "/", "-"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.socket
			if strings.HasPrefix(at, "@") {
				at = "\x00" + at[1:]
			}
			conn := listen(t, at)
			n := sdnotify.FromEnv(env(map[string]string{"NOTIFY_SOCKET": tc.socket}))
			for _, state := range []string{sdnotify.Ready, sdnotify.Stopping} {
				if err := n.Notify(state); err != nil {
					t.Fatal(err)
				}
				if got := read(t, conn); got != state {
					t.Fatalf("received %q, want %q", got, state)
				}
			}
		})
	}
}

func TestWithoutSocketNothingHappens(t *testing.T) {
	n := sdnotify.FromEnv(env(nil))
	if n != nil {
		t.Fatal("a notifier without NOTIFY_SOCKET")
	}
	if err := n.Notify(sdnotify.Ready); err != nil {
		t.Fatal(err)
	}
	n.RunWatchdog(context.Background(), time.Second, nil) // returns at once
}

func TestWatchdog(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want time.Duration
		ok   bool
	}{
		{"unset", nil, 0, false},
		{"ours", map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 30 * time.Second, true},
		{"no pid given", map[string]string{"WATCHDOG_USEC": "500000"}, 500 * time.Millisecond, true},
		// A watchdog meant for another process (the variable was inherited) is not ours.
		{"another process's", map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 0, false},
		{"garbage", map[string]string{"WATCHDOG_USEC": "soon"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := sdnotify.WatchdogInterval(env(tc.env), 42)
			if d != tc.want || ok != tc.ok {
				t.Fatalf("WatchdogInterval = %v %v, want %v %v", d, ok, tc.want, tc.ok)
			}
		})
	}

	sock := filepath.Join(t.TempDir(), "notify")
	conn := listen(t, sock)
	n := sdnotify.FromEnv(env(map[string]string{"NOTIFY_SOCKET": sock}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go n.RunWatchdog(ctx, 100*time.Millisecond, func() bool { return true })
	for range 3 {
		if got := read(t, conn); got != sdnotify.Watchdog {
			t.Fatalf("received %q", got)
		}
	}
	// Three pings at interval/2 = 50 ms take at least 150 ms (generous upper bound: hang detector).
	if el := time.Since(start); el < 140*time.Millisecond || el > 5*time.Second {
		t.Fatalf("three pings took %v, want about 150 ms", el)
	}
}
