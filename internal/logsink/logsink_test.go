package logsink

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLinesArriveWholeInOrderAndOnTime(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out, 20*time.Millisecond)
	var want strings.Builder
	for i := range 5000 {
		line := strings.Repeat("x", i%200) + "\n"
		want.WriteString(line)
		w.Write([]byte(line))
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != want.String() {
		if time.Now().After(deadline) {
			t.Fatal("buffered lines were not flushed by the interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out.writes >= 5000/10 {
		t.Fatalf("%d writes for 5000 lines: not buffered", out.writes)
	}
	w.Write([]byte("last\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "last\n") {
		t.Fatal("Close did not flush")
	}
}

func TestConcurrentWritesAreNotInterleaved(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			line := []byte(strings.Repeat(string(rune('a'+g)), 3000) + "\n")
			for range 200 {
				w.Write(line)
			}
		}()
	}
	wg.Wait()
	w.Close()
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if len(l) != 3000 || strings.Count(l, l[:1]) != 3000 {
			t.Fatalf("a line was split or mixed: %q…", l[:20])
		}
	}
}
