// Package admin provides the gateway's admin HTTP API (SPEC section 5): cluster and binding
// management over a *directory.Directory behind a bearer token, plus the unauthenticated
// /healthz, /readyz and /metrics endpoints of the internal admin listener.
package admin
