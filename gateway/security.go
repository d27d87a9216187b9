package main

// Transport security and request bounds of the gateway.
//
//	GATEWAY_TLS_CERT, GATEWAY_TLS_KEY  the gateway's certificate: served to REST clients (HTTPS) and
//	                                   presented to the services (mTLS); required
//	GATEWAY_TLS_CA                     the CA the services' certificates are signed by; required
//	GATEWAY_DEV_PLAINTEXT=1            plain HTTP and plain-text gRPC instead (development only)
//	GATEWAY_MAX_BODY_BYTES             largest request body accepted (default 16 MiB); larger: 413
//
// The caller's `Authorization: Bearer` header is forwarded to the services as gRPC metadata by
// grpc-gateway itself; the services verify it (UNAUTHENTICATED -> 401, PERMISSION_DENIED -> 403).

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const defaultMaxBodyBytes = 16 << 20

type transport struct {
	plaintext bool
	server    *tls.Config // HTTPS for REST clients
	backend   grpc.DialOption
}

func loadTransport() (*transport, error) {
	if os.Getenv("GATEWAY_DEV_PLAINTEXT") == "1" {
		return &transport{plaintext: true, backend: grpc.WithTransportCredentials(insecure.NewCredentials())}, nil
	}
	certFile, keyFile, caFile := os.Getenv("GATEWAY_TLS_CERT"), os.Getenv("GATEWAY_TLS_KEY"), os.Getenv("GATEWAY_TLS_CA")
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("GATEWAY_TLS_CERT, GATEWAY_TLS_KEY and GATEWAY_TLS_CA are required (or GATEWAY_DEV_PLAINTEXT=1 for development)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gateway certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_TLS_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("GATEWAY_TLS_CA %s holds no certificate", caFile)
	}
	return &transport{
		server: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		backend: grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12,
		})),
	}, nil
}

// limitBodies answers 413 for bodies past max bytes instead of reading them whole, in the
// gateway's error model (a google.rpc.Status, RESOURCE_EXHAUSTED) like every other error.
func limitBodies(max int64, mux *runtime.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			_, out := runtime.MarshalerForRequest(mux, r)
			runtime.HTTPError(r.Context(), mux, out, w, r, &runtime.HTTPStatusError{
				HTTPStatus: http.StatusRequestEntityTooLarge,
				Err:        status.Errorf(codes.ResourceExhausted, "request body over %d bytes", max),
			})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		mux.ServeHTTP(w, r)
	})
}

func maxBodyBytes() (int64, error) {
	raw := os.Getenv("GATEWAY_MAX_BODY_BYTES")
	if raw == "" {
		return defaultMaxBodyBytes, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("GATEWAY_MAX_BODY_BYTES=%q: want a positive byte count", raw)
	}
	return n, nil
}
