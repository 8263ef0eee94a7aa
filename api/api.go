// Package api is notrain's API contract: the OpenAPI 3.1 document of every
// JSON route, embedded so that the server serves exactly the file in the
// repository (GET /api/v1/openapi.json) and the tests check the code
// against that same file.
package api

import (
	_ "embed"
)

// document is a package variable only because go:embed needs one; it is
// never written, and Document hands out copies.
//
//go:embed openapi.json
var document []byte

// Document returns the OpenAPI document (JSON).
func Document() []byte {
	return append([]byte(nil), document...)
}
