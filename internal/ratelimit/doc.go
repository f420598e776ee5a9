// Package ratelimit provides brute-force protection for the token endpoint: failed logins
// counted per username and per client IP in a shared store, with growing temporary lockouts,
// per-instance counters when the store is down, and the client address to count against.
package ratelimit
