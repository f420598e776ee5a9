package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shipped binary writes its access line through the hand encoder (tokenapi/accesslog.go):
// one JSON line per request with request id, cluster, code and latency, parseable by the same
// pipeline as every other line, and never the password.
func TestServeWritesAccessLines(t *testing.T) {
	sso := startRefSSO(t, map[string]string{"alice": "alice-pass-4711"})
	cfg := filepath.Join(t.TempDir(), "ssogate.yaml")
	writeConfig(t, cfg, []clusterEntry{{"ONE", sso.URL}}, "")
	p := startServe(t, cfg)
	if s := p.adminDo("PUT", "/admin/clusters/ONE/users/alice"); s != 200 {
		t.Fatalf("bind: HTTP %d", s)
	}
	if a := p.login("alice", "alice-pass-4711"); !a.ok("ONE") {
		t.Fatalf("login: %v", a)
	}
	if a := p.login("nobody", "alice-pass-4711"); a.status != 200 || a.raw == "" || !strings.Contains(a.raw, `"code":1004`) {
		t.Fatalf("unknown user: %v", a)
	}
	want := map[float64]string{200: "ONE", 1004: ""} // code → cluster
	got := map[float64]map[string]any{}
	for deadline := time.Now().Add(5 * time.Second); len(got) < len(want) && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(p.log(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "access" {
				got[m["code"].(float64)] = m
			}
		}
	}
	for code, cluster := range want {
		m := got[code]
		if m == nil {
			t.Fatalf("no access line with code %v in:\n%s", code, p.log())
		}
		if m["level"] != "INFO" || m["cluster"] != cluster || m["grant"] != "password" || m["ip"] != "127.0.0.1" {
			t.Errorf("access line for code %v: %v", code, m)
		}
		if id, _ := m["request_id"].(string); len(id) != 16 {
			t.Errorf("access line for code %v: request_id %q", code, id)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("access line for code %v: time: %v", code, err)
		}
		if ms, ok := m["latency_ms"].(float64); !ok || ms < 0 {
			t.Errorf("access line for code %v: latency_ms %v", code, m["latency_ms"])
		}
	}
	if got[200]["sso_status"] != float64(200) {
		t.Errorf("login's sso_status: %v", got[200]["sso_status"])
	}
	if strings.Contains(p.log(), "alice-pass-4711") {
		t.Error("the log holds the password")
	}
}
