package main

// A REST caller's W3C trace context (traceparent, tracestate) goes on to the service as gRPC
// metadata, so its trace continues there (meters/tracing.py); the other headers are mapped as
// grpc-gateway does by default.

import (
	"net/textproto"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

func traceHeaders(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Traceparent", "Tracestate":
		return key, true
	}
	return runtime.DefaultHeaderMatcher(key)
}
