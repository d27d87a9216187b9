package main

// A Swagger UI page over /openapi.json at /docs/, its assets embedded in the binary
// (github.com/swaggest/swgui v5emb: Swagger UI 5, no CDN), so it works offline and
// behind a firewall. The page is static; its "Try it out" calls go to /api/ like any
// client's and need a token (the Authorize button takes `Bearer <token>`).

import (
	"net/http"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

const docsPath = "/docs/"

func docsHandler() http.Handler {
	return v5emb.NewWithConfig(swgui.Config{ShowTopBar: false, HideCurl: false})(
		"Meters REST API", "/openapi.json", docsPath)
}
