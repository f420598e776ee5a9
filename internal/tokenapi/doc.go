// Package tokenapi provides POST /oauth/token: it parses a token request, resolves the user's
// cluster, forwards the request to that cluster's SSO and answers in the wire format of the
// original API document (SPEC section 2).
package tokenapi
