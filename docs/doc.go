// Package docs embeds the API document (openapi.yaml) so that the admin listener serves the
// very file kept in the repository, and the tests validate against that same copy.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml (OpenAPI 3.1, SPEC section 11).
//
//go:embed openapi.yaml
var OpenAPI []byte
