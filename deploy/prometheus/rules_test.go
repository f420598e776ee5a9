// Package prometheus_test checks the alerting rules with Prometheus's own tool (SPEC section
// 11): the rules parse (promtool check rules) and every alert behaves as its unit test in
// ssogate-rules.test.yaml says (promtool test rules). promtool comes with Debian's prometheus
// package, which scripts/test.sh installs when it is missing; without it this test fails.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (apt-get install prometheus; scripts/test.sh does it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesAreValid(t *testing.T) {
	// --lint-fatal: duplicate rules and other lint findings fail too.
	out := promtool(t, "check", "rules", "--lint=all", "--lint-fatal", "ssogate-rules.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

func TestRulesUnitTests(t *testing.T) {
	out := promtool(t, "test", "rules", "ssogate-rules.test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// TestEveryAlertIsUnitTested pins that each alert of the rules has a case in the test file.
func TestEveryAlertIsUnitTested(t *testing.T) {
	rules := readFile(t, "ssogate-rules.yaml")
	tests := readFile(t, "ssogate-rules.test.yaml")
	n := 0
	for _, line := range strings.Split(rules, "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
		if !ok {
			continue
		}
		n++
		if !strings.Contains(tests, "alertname: "+name+"\n") {
			t.Errorf("alert %s has no unit test in ssogate-rules.test.yaml", name)
		}
	}
	if n < 6 {
		t.Fatalf("found %d alerts; SPEC section 11 names at least six", n)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
