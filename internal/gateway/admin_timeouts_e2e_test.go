package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/config"
	"github.com/ssogate/ssogate/internal/directory"
)

// shortTimeouts makes the slow-client limits small enough to test in a second.
func shortTimeouts(c *config.Config) {
	c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	c.HTTP.ReadTimeout = 300 * time.Millisecond
	c.SSO.ConnectTimeout = 200 * time.Millisecond
	c.SSO.Timeout = 500 * time.Millisecond
	c.HTTP.WriteTimeout = time.Second
}

// Issue 8 item 9: the admin server had no read timeout, so a client announcing a body and
// never sending it held a connection (and a goroutine) for ever.
func TestAdminListenerCutsOffSlowClients(t *testing.T) {
	clusters := []directory.Cluster{{Code: "BJEDU", Name: "北京市教委环境", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1", Enabled: true}}
	e := startGateway(t, &syncBuffer{}, clusters, shortTimeouts)
	for _, tc := range []struct{ name, request string }{
		{"body never sent", "PUT /admin/clusters/X HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + e.adminToken +
			"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"},
		{"bulk import stalled", "POST /admin/clusters/BJEDU/users HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + e.adminToken +
			"\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nalice\n"},
		{"headers never finished", "GET /admin/clusters HTTP/1.1\r\nHost: a\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", e.g.AdminAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn) // until the server closes
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the admin server kept a stalled client's connection open for 5 s")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("cut off after %v", d)
			}
		})
	}
}

// A bulk import runs for as long as its lines keep coming, far past read_timeout and
// write_timeout: its deadlines move with its progress.
func TestAdminBulkImportOutlivesTheServerTimeouts(t *testing.T) {
	clusters := []directory.Cluster{{Code: "BJEDU", Name: "北京市教委环境", SSOURL: "http://127.0.0.1:1/sso", ServerURL: "http://127.0.0.1:1", Enabled: true}}
	e := startGateway(t, &syncBuffer{}, clusters, shortTimeouts)
	pr, pw := io.Pipe()
	const lines = 25
	go func() {
		w := bufio.NewWriter(pw)
		for i := range lines {
			fmt.Fprintf(w, "slow%02d\n", i)
			w.Flush()
			time.Sleep(100 * time.Millisecond) // 2.5 s in all: past 0.6 s to read, 1.3 s to answer
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.adminBase+"/admin/clusters/BJEDU/users", pr)
	req.Header.Set("Authorization", "Bearer "+e.adminToken)
	req.Header.Set("Content-Type", "text/plain")
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("the import was cut off after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	var res struct {
		Bound int `json:"bound"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &res) != nil || res.Bound != lines {
		t.Fatalf("after %v: HTTP %d %s", time.Since(start), resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	t.Logf("a %v import bound %d usernames", time.Since(start).Round(time.Millisecond), res.Bound)
}
