package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SPEC section 10: the real binary under NOTIFY_SOCKET sends READY=1 once it serves,
// WATCHDOG=1 every WATCHDOG_USEC/2, and STOPPING=1 when SIGTERM starts the shutdown.
func TestSdNotifyOfTheRealBinary(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sso := startRefSSO(t, map[string]string{"alice": "pw"})
	path := filepath.Join(dir, "ssogate.yaml")
	writeConfig(t, path, []clusterEntry{{"ONE", sso.URL}}, "")
	p := startServeEnv(t, path, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")

	next := func() string {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\n%s", err, p.log())
		}
		return string(buf[:n])
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	// The admin listener answers once READY=1 is sent.
	if code := p.adminDo("GET", "/healthz"); code != 200 {
		t.Fatalf("/healthz after READY=1: %d", code)
	}
	for range 2 {
		if got := next(); got != "WATCHDOG=1" {
			t.Fatalf("notification %q, want WATCHDOG=1", got)
		}
	}
	p.signal(syscall.SIGTERM)
	for {
		got := next()
		if got == "STOPPING=1" {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("notification %q while stopping", got)
		}
	}
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(p.log(), "sd_notify failed") {
		t.Fatalf("a notification failed:\n%s", p.log())
	}
}
