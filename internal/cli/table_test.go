package cli

import (
	"bytes"
	"strings"
	"testing"
)

// columnsAt returns the display column at which each of words starts in line.
func columnsAt(t *testing.T, line string, words ...string) []int {
	t.Helper()
	var cols []int
	for _, w := range words {
		i := strings.Index(line, w)
		if i < 0 {
			t.Fatalf("%q not in %q", w, line)
		}
		cols = append(cols, width(line[:i]))
	}
	return cols
}

func TestTableAlignsByDisplayWidth(t *testing.T) {
	var b bytes.Buffer
	tw := newTable(&b, 2)
	tw.row("CODE", "NAME", "ENABLED")
	tw.row("BJEDU", "北京市教委环境", "yes")
	tw.row("TEST0525", "测试用", "no")
	tw.row("X", "plain", "yes")
	if err := tw.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"CODE      NAME            ENABLED",
		"BJEDU     北京市教委环境  yes",
		"TEST0525  测试用          no",
		"X         plain           yes",
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d\n got %q\nwant %q", i, lines[i], want[i])
		}
	}
	// The third column starts at the same display column on every line (a CJK character
	// takes two; text/tabwriter counted one).
	third := []string{"ENABLED", "yes", "no", "yes"}
	for i, l := range lines {
		if got := columnsAt(t, l, third[i])[0]; got != 26 {
			t.Errorf("line %d: third column at display column %d, want 26: %q", i, got, l)
		}
	}
	if strings.Contains(b.String(), " \n") {
		t.Error("trailing blanks after the last column")
	}
}

// The real CLI against the real admin API: cluster list and user lookup line up with
// Chinese cluster names.
func TestClusterListAlignsChineseNames(t *testing.T) {
	url := newServer(t)
	for _, c := range []struct{ code, name string }{{"BJEDU", "北京市教委环境"}, {"TEST0525", "测试用"}} {
		run(t, url, "cluster", "put", c.code, "--name", c.name, "--sso-url", "http://sso.test/sso",
			"--server-url", "http://api.test/server").ok(t)
	}
	out := run(t, url, "cluster", "list").ok(t).stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s", out)
	}
	first := columnsAt(t, lines[0], "ENABLED", "SSO_URL")
	for _, l := range lines[1:] {
		if got := columnsAt(t, l, "yes", "http://sso.test/sso"); got[0] != first[0] || got[1] != first[1] {
			t.Errorf("columns at %v, header's at %v:\n%s", got, first, out)
		}
	}
	run(t, url, "user", "bind", "BJEDU", "carol").ok(t)
	run(t, url, "user", "bind", "TEST0525", "carol").ok(t)
	out = run(t, url, "user", "lookup", "carol").ok(t).stdout
	var rows []string
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "yes") || strings.Contains(l, "ENABLED") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("lookup:\n%s", out)
	}
	head := columnsAt(t, rows[0], "ENABLED")[0]
	for _, l := range rows[1:] {
		if got := columnsAt(t, l, "yes")[0]; got != head {
			t.Errorf("ENABLED column at %d, header's at %d:\n%s", got, head, out)
		}
	}
}
