package main

// The OpenAPI description of the REST API, generated from proto/ at build time
// (protoc-gen-openapiv2, merged into one document by scripts/build_gateway.sh)
// and embedded here: served at /openapi.json, and used to answer a known path
// called with a method it does not map with 405 and its Allow header.

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

//go:embed gen/openapi/meters.swagger.json
var openAPISpec []byte

// route is one path template of the description with the methods it maps.
type route struct {
	re      *regexp.Regexp
	methods []string
}

// routesOf reads the path templates of an OpenAPI 2.0 document. A path
// parameter with a pattern (a resource name such as meters/[^/]+) matches it,
// any other one path segment.
func routesOf(spec []byte) ([]route, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In, Pattern string
			}
		}
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("openapi description: %w", err)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var routes []route
	for path, ops := range doc.Paths {
		patterns := map[string]string{}
		var methods []string
		for method, op := range ops {
			methods = append(methods, strings.ToUpper(method))
			for _, p := range op.Parameters {
				if p.In == "path" && p.Pattern != "" {
					patterns[p.Name] = p.Pattern
				}
			}
		}
		var expr strings.Builder
		last := 0
		for _, m := range param.FindAllStringSubmatchIndex(path, -1) {
			expr.WriteString(regexp.QuoteMeta(path[last:m[0]]))
			if pat, ok := patterns[path[m[2]:m[3]]]; ok {
				expr.WriteString("(?:" + pat + ")")
			} else {
				expr.WriteString("[^/]+")
			}
			last = m[1]
		}
		expr.WriteString(regexp.QuoteMeta(path[last:]))
		re, err := regexp.Compile("^" + expr.String() + "$")
		if err != nil {
			return nil, fmt.Errorf("openapi path %s: %w", path, err)
		}
		routes = append(routes, route{re: re, methods: methods})
	}
	return routes, nil
}

// allowed lists the methods the description maps for a request path.
func allowed(routes []route, path string) []string {
	seen := map[string]bool{}
	for _, r := range routes {
		if r.re.MatchString(path) {
			for _, m := range r.methods {
				seen[m] = true
			}
		}
	}
	methods := make([]string, 0, len(seen))
	for m := range seen {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	return methods
}

// routingErrors answers a path the mux knows, called with another method, with
// 405 Method Not Allowed and an Allow header (grpc-gateway's default is 501
// Unimplemented); other routing errors keep the default handling.
func routingErrors(routes []route) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
		if code != http.StatusMethodNotAllowed {
			runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, code)
			return
		}
		if methods := allowed(routes, r.URL.Path); len(methods) > 0 {
			w.Header().Set("Allow", strings.Join(methods, ", "))
		}
		runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        status.Error(codes.Unimplemented, http.StatusText(http.StatusMethodNotAllowed)),
		})
	}
}

// serveOpenAPI serves the embedded description.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPISpec)
}
