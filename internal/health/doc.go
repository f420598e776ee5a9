// Package health keeps the live per-cluster figures the console shows (SPEC section 9):
// requests/s, share of 1002 answers and SSO p95 latency over the last five minutes, and each
// breaker's state with since when and the last error — in small in-process ring buffers
// updated with atomics on the login path, never read back from Prometheus.
package health
