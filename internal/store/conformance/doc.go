// Package conformance provides the shared test suite that pins the behaviour every storage
// backend (embedded, redis) must show through directory.Store, refresh.Store and
// ratelimit.Counters.
package conformance
