package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssogate/ssogate/internal/demo"
)

// The demo is what a new user runs first: every code it promises must come out of it.
func TestDemoShowsEveryCode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, &out, demo.Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", DataDir: t.TempDir(),
			Ready: func(g, a string) { ready <- [2]string{g, a} }})
	}()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("demo ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start within 30 s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	}()
	if !strings.Contains(out.String(), "curl -s -u app:app-secret") {
		t.Fatalf("no curl lines printed:\n%s", out.String())
	}
	post := func(params ...string) map[string]any {
		t.Helper()
		form := url.Values{"grant_type": {"password"}}
		for i := 0; i+1 < len(params); i += 2 {
			form.Set(params[i], params[i+1])
		}
		req, _ := http.NewRequest("POST", "http://"+addrs[0]+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(demo.ClientID, demo.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		params []string
		code   float64
	}{
		{"200", []string{"username", "alice", "password", "alice-pass"}, 200},
		{"1000", []string{"username", "carol", "password", "carol-pass"}, 1000},
		{"200 with invite code", []string{"username", "carol", "password", "carol-pass", "clusterCode", "bjedu"}, 200},
		{"1001", []string{"username", "alice", "password", "alice-pass", "clusterCode", "BJEDU"}, 1001},
		{"1002", []string{"username", "alice", "password", "wrong"}, 1002},
		{"1004", []string{"username", "nobody", "password", "x"}, 1004},
		{"manager", []string{"username", "admin", "password", "admin-pass", "client", "manager"}, 200},
	} {
		if got := post(tc.params...); got["code"] != tc.code {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	// erin is bound by nobody but BJEDU's scheduled sync from its reference SSO.
	deadline := time.Now().Add(10 * time.Second)
	for post("username", "erin", "password", "erin-pass")["code"] != float64(200) {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled sync did not bind erin within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var st map[string]any
	for {
		req, _ := http.NewRequest("GET", "http://"+addrs[1]+"/admin/clusters/BJEDU/sync", nil)
		req.Header.Set("Authorization", "Bearer demo")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st["last_run"] != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st["last_success"] == nil || st["added"] != float64(1) || st["error"] != "" {
		t.Fatalf("BJEDU sync status: %v", st)
	}
	if !strings.Contains(out.String(), "/admin/clusters/BJEDU/sync") {
		t.Fatal("the walk-through does not show the sync status")
	}
}
