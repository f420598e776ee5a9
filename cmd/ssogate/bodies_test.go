package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssBytes is the resident set of a process, from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestLargeBodiesOnTheRealBinary pins SPEC section 2 (issue 8 item 2) on `ssogate serve`: a body
// over the limit is refused from its Content-Length before it is read, no connection makes the
// gateway hold more than the limit, and a client still uploading reads the JSON 413.
func TestLargeBodiesOnTheRealBinary(t *testing.T) {
	sso := startRefSSO(t, map[string]string{"alice": "alice-pass"})
	cfg := filepath.Join(t.TempDir(), "ssogate.yaml")
	writeConfig(t, cfg, []clusterEntry{{"BODY", sso.URL}}, "")
	p := startServe(t, cfg)
	addr := strings.TrimPrefix(p.public, "http://")

	t.Run("a Go client uploading 4 MiB reads the 413 JSON", func(t *testing.T) {
		body := strings.NewReader("grant_type=password&pad=" + strings.Repeat("x", 4<<20))
		req, _ := http.NewRequest(http.MethodPost, p.public+"/oauth/token", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("app", "app-secret")
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("want the JSON 413, got a transport error: %v", err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 413 || m["code"] != float64(1002) {
			t.Fatalf("got %d %v (%v)", resp.StatusCode, m, err)
		}
	})

	t.Run("400 idle connections announcing 1 MiB cost under 50 MiB", func(t *testing.T) {
		for range 5 { // warm up: pools, the first connections
			p.login("alice", "alice-pass")
		}
		before := rssBytes(t, p.cmd.Process.Pid)
		head := "POST /oauth/token HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"Content-Length: 1048576\r\n\r\ngrant_type=password&pad=xxxx"
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range 400 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
		}
		time.Sleep(500 * time.Millisecond) // what the server holds for them, it holds by now
		after := rssBytes(t, p.cmd.Process.Pid)
		grew := after - before
		t.Logf("RSS %d MiB before, %d MiB with 400 connections announcing 1 MiB (+%d MiB)", before>>20, after>>20, grew>>20)
		if grew >= 50<<20 {
			t.Fatalf("RSS grew by %d MiB, want < 50 MiB", grew>>20)
		}
		// Every one is answered 413 at once, from its Content-Length, while it idles.
		for i, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 413") {
				t.Fatalf("connection %d: %q %v", i, line, err)
			}
		}
	})
}
