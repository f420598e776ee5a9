package conformance

import (
	"bytes"
	"sync"
	"testing"
)

var secretTests = []subtest{
	{"SharedSecret/FirstWins", testSharedSecretFirstWins},
	{"SharedSecret/ConcurrentCallersAgree", testSharedSecretConcurrent},
}

// The first value stored under a name is the one every later caller gets (the console's
// session key: instances on one store sign with one key, and a restart keeps it).
func testSharedSecretFirstWins(t *testing.T, s Backend) {
	got, err := s.SharedSecret(ctx(t), "console-session", []byte("first-secret"))
	if err != nil || string(got) != "first-secret" {
		t.Fatalf("first SharedSecret = %q, %v; want the fresh value stored", got, err)
	}
	again, err := s.SharedSecret(ctx(t), "console-session", []byte("second-secret"))
	if err != nil || string(again) != "first-secret" {
		t.Fatalf("second SharedSecret = %q, %v; want the first value", again, err)
	}
	other, err := s.SharedSecret(ctx(t), "other", []byte("other-secret"))
	if err != nil || string(other) != "other-secret" {
		t.Fatalf("another name = %q, %v; names must be independent", other, err)
	}
	if _, err := s.SharedSecret(ctx(t), "empty", nil); err == nil {
		t.Fatal("an empty secret was stored")
	}
}

// Instances starting together must agree on one value, whichever stored it.
func testSharedSecretConcurrent(t *testing.T, s Backend) {
	const callers = 16
	got := make([][]byte, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			v, err := s.SharedSecret(ctx(t), "race", []byte{'k', byte('a' + i)})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != 2 || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("callers got %q and %q; want one value for all", got[0], got[i])
		}
	}
}
