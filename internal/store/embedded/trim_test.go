package embedded

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ssogate/ssogate/internal/directory"
)

// rssFileKiB is this process's resident file-backed memory (the bbolt mapping among it).
func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func bindUsers(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ctx := t.Context()
	if err := s.PutCluster(ctx, directory.Cluster{Code: "A", Name: "a", SSOURL: "http://127.0.0.1:1/sso",
		ServerURL: "http://127.0.0.1:1/server", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("user%07d", i)
	}
	for chunk := range slices.Chunk(names, directory.BulkBindBatch) {
		if err := s.BindMany(ctx, directory.NamespaceUser, "A", chunk); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// Lookups map the file's pages into the process; trimming releases them from its RSS, and
// every binding still reads back (the pages come back from the page cache on the next read).
func TestTrimReleasesMappedPages(t *testing.T) {
	s := openT(t, Options{})
	names := bindUsers(t, s, 150_000)
	ctx := t.Context()
	lookAll := func() {
		for _, name := range names {
			codes, err := s.Lookup(ctx, directory.NamespaceUser, name)
			if err != nil || len(codes) != 1 || codes[0] != "A" {
				t.Fatalf("Lookup(%s) = %q, %v", name, codes, err)
			}
		}
	}
	lookAll()
	if err := s.trimMapping(); err != nil {
		t.Fatal(err)
	}
	trimmed := rssFileKiB(t)
	lookAll()
	mapped := rssFileKiB(t)
	if mapped-trimmed < 2048 {
		t.Fatalf("reading 150,000 bindings mapped only %d KiB (%d → %d); the test measures nothing", mapped-trimmed, trimmed, mapped)
	}
	if err := s.trimMapping(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	if released := mapped - after; released < (mapped-trimmed)*9/10 {
		t.Errorf("trim released %d KiB of the %d KiB the lookups mapped", released, mapped-trimmed)
	}
	lookAll() // nothing lost
}

// Trimming while writes grow the file (bbolt remaps it) and reads run must neither fault nor
// lose data: the trim holds the mmap lock through its read transaction.
func TestTrimDuringGrowingWrites(t *testing.T) {
	s := openT(t, Options{})
	names := bindUsers(t, s, 20_000)
	ctx := t.Context()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.trimMapping(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := names[i%len(names)]
			if codes, err := s.Lookup(ctx, directory.NamespaceUser, name); err != nil || len(codes) != 1 {
				t.Errorf("Lookup(%s) = %q, %v", name, codes, err)
				return
			}
		}
	}()
	more := make([]string, 0, directory.BulkBindBatch)
	for i := range 60_000 { // grows the file several times over
		more = append(more, fmt.Sprintf("grow%07d", i))
		if len(more) == cap(more) {
			if err := s.BindMany(ctx, directory.NamespaceUser, "A", more); err != nil {
				t.Fatal(err)
			}
			more = more[:0]
		}
	}
	close(stop)
	wg.Wait()
	for _, name := range []string{"grow0000000", "grow0059999", names[0], names[len(names)-1]} {
		if codes, err := s.Lookup(ctx, directory.NamespaceUser, name); err != nil || len(codes) != 1 || codes[0] != "A" {
			t.Errorf("after: Lookup(%s) = %q, %v", name, codes, err)
		}
	}
}
