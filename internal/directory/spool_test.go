package directory

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

// The spool sorts by (rank, bytes) across runs written to disk, drops duplicates (also across
// runs) and removes its files on close.
func TestSpoolSpillsSortsAndDeduplicates(t *testing.T) {
	rank := func(s string) uint64 { return uint64(s[len(s)-1] % 7) }
	sp := newSpool(rank)
	const n = reconcileRunNames*2 + 500
	var want []rankedName
	for i := range n {
		name := fmt.Sprintf("user-%07d", (i*7919)%n) // a permutation: every name once
		if err := sp.add(name); err != nil {
			t.Fatal(err)
		}
		want = append(want, rankedName{rank(name), name})
		if i%1000 == 0 {
			if err := sp.add(name); err != nil { // duplicates, landing in other runs
				t.Fatal(err)
			}
		}
	}
	if len(sp.files) != 2 {
		t.Fatalf("%d runs on disk for %d names, want 2", len(sp.files), n)
	}
	list, err := sp.finish()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, compareRanked)
	for pass := range 2 { // a guarded reconcile reads the list twice
		it, err := list.Open()
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for name, ok := it.Next(); ok; name, ok = it.Next() {
			if i >= len(want) || name != want[i].name {
				t.Fatalf("pass %d: name %d = %q, want %q", pass, i, name, want[min(i, len(want)-1)].name)
			}
			i++
		}
		if it.Err() != nil || i != len(want) {
			t.Fatalf("pass %d: %d names, err %v; want %d", pass, i, it.Err(), len(want))
		}
		it.Close()
	}
	files := slices.Clone(sp.files)
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("spool file %s left behind (%v)", f, err)
		}
	}
}
