// Command openapidoc writes swapd's OpenAPI document (api.Document, what the API
// serves at /openapi.json) to a file, so scripts/lint-openapi.sh can lint it without
// starting a server.
//
//	go run ./internal/openapidoc -o bin/openapi.json
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"

	"github.com/swapd/swapd/pkg/api"
)

func main() {
	out := flag.String("o", "bin/openapi.json", "where to write the document")
	flag.Parse()
	b, err := json.MarshalIndent(api.Document(), "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
