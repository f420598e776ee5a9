// Package cli provides the "ssogate cluster" and "ssogate user" subcommands, which manage
// clusters and bindings through the gateway's admin HTTP API (SPEC section 5).
package cli
