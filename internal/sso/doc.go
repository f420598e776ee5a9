// Package sso forwards token requests to the clusters' SSO servers: a pooled keep-alive client
// per cluster with connect and total timeouts, a circuit breaker and a bound on requests in
// flight, so that one sick SSO never slows the others (SPEC section 4).
package sso
