// Package ratelimit provides brute-force protection for the token endpoint: failed logins
// counted per username and per client IP in a shared store, with growing temporary lockouts.
package ratelimit
