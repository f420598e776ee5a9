// Package certs serves a TLS certificate read from a pair of PEM files and swaps it, without
// dropping a connection, when asked (SIGHUP) or when the files change (SPEC section 10).
package certs
