// Package store declares Backend, the whole storage contract a backend (embedded, redisstore)
// provides to the gateway; internal/store/conformance is the suite every backend passes.
package store
