// Package apidoc checks HTTP exchanges against the API document (docs/openapi.yaml) with a
// maintained OpenAPI 3.1 validator, for the end-to-end tests: wrap a test's client transport
// with Transport and every request it makes and every answer it gets is validated, so the
// document cannot drift from the code (SPEC section 11).
package apidoc
