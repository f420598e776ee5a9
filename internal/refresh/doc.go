// Package refresh records which cluster issued each refresh token the gateway handed out, so
// that a refresh_token grant without clusterCode goes back to that cluster (SPEC section 2).
// Only a SHA-256 of a token is ever stored.
package refresh
