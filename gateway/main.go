// Command gateway serves the platform's REST API (/api/v1/...) by proxying
// to the five gRPC services, using the handlers grpc-gateway generates from
// the google.api.http annotations in proto/ (see scripts/build_gateway.sh).
//
// Configuration (environment):
//
//	GATEWAY_ADDR    listen address (default 127.0.0.1:8080); HTTPS unless
//	                GATEWAY_DEV_PLAINTEXT=1 (security.go: certificates, body bound)
//	INGEST_ADDR, SCORING_ADDR, FORECAST_ADDR, CUSTOMER_ADDR, ALERT_ADDR
//	                host:port of each service's gRPC server; all required
//	                unless GATEWAY_ALLOW_MISSING=1, which leaves the routes of
//	                unset services out (they answer 404)
//
// Besides the API it serves /healthz (liveness: the gateway is up), /readyz
// (every configured backend answers grpc.health.v1 SERVING) and /openapi.json
// (the API's OpenAPI 2.0 description, generated from proto/: openapi.go).
// A known path called with a method it does not map answers 405 with Allow.
// JSON uses the proto field names (snake_case) and emits zero values of
// scalars, lists and maps; an unset message or optional field is left out, not
// written as null, which the OpenAPI description's types do not allow.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	// Registers ErrorInfo, BadRequest, ... so error details in google.rpc.Status can be rendered as JSON.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	alertv1 "github.com/meters-platform/meters/gateway/gen/meters/alert/v1"
	auditv1 "github.com/meters-platform/meters/gateway/gen/meters/audit/v1"
	customerv1 "github.com/meters-platform/meters/gateway/gen/meters/customer/v1"
	forecastv1 "github.com/meters-platform/meters/gateway/gen/meters/forecast/v1"
	ingestv1 "github.com/meters-platform/meters/gateway/gen/meters/ingest/v1"
	scoringv1 "github.com/meters-platform/meters/gateway/gen/meters/scoring/v1"
)

// registerFunc registers one service's REST handlers on the mux, proxying to conn.
type registerFunc func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error

// backend is one gRPC service the gateway proxies to.
type backend struct {
	name     string // short name, used in logs and /readyz
	env      string // environment variable holding its address
	register registerFunc
	addr     string
	conn     *grpc.ClientConn
}

func backends() []*backend {
	return []*backend{
		{name: "ingest", env: "INGEST_ADDR", register: ingestv1.RegisterIngestServiceHandler},
		// scoring_svc also hosts OutageService.
		{name: "scoring", env: "SCORING_ADDR", register: both(scoringv1.RegisterScoringServiceHandler, scoringv1.RegisterOutageServiceHandler)},
		{name: "forecast", env: "FORECAST_ADDR", register: forecastv1.RegisterForecastServiceHandler},
		{name: "customer", env: "CUSTOMER_ADDR", register: customerv1.RegisterCustomerServiceHandler},
		// alert_svc also hosts AuditService (docs/decisions.md 22).
		{name: "alert", env: "ALERT_ADDR", register: both(alertv1.RegisterAlertServiceHandler, auditv1.RegisterAuditServiceHandler)},
	}
}

// both registers the REST handlers of two services hosted by one backend.
func both(first, second registerFunc) registerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
		if err := first(ctx, mux, conn); err != nil {
			return err
		}
		return second(ctx, mux, conn)
	}
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: pythonLogFields})).
		With("logger", "gateway", "service", "gateway")
	if err := run(log); err != nil {
		log.Error("gateway failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	listen := envOr("GATEWAY_ADDR", "127.0.0.1:8080")
	allowMissing := os.Getenv("GATEWAY_ALLOW_MISSING") == "1"

	var active []*backend
	var missing []string
	for _, b := range backends() {
		b.addr = strings.TrimSpace(os.Getenv(b.env))
		if b.addr == "" {
			missing = append(missing, b.env)
			continue
		}
		active = append(active, b)
	}
	if len(missing) > 0 && !allowMissing {
		return fmt.Errorf("missing service addresses: %s (set them, or GATEWAY_ALLOW_MISSING=1)", strings.Join(missing, ", "))
	}

	tr, err := loadTransport()
	if err != nil {
		return err
	}
	maxBody, err := maxBodyBytes()
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	routes, err := routesOf(openAPISpec)
	if err != nil {
		return err
	}
	mux := runtime.NewServeMux(
		runtime.WithRoutingErrorHandler(routingErrors(routes)),
		runtime.WithIncomingHeaderMatcher(traceHeaders),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			// EmitDefaultValues, not EmitUnpopulated: the latter writes null for an unset
			// Timestamp, Struct or message field and an unset optional scalar.
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}),
	)
	for _, b := range active {
		conn, err := grpc.NewClient(b.addr,
			tr.backend,
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		)
		if err != nil {
			return fmt.Errorf("%s at %s: %w", b.env, b.addr, err)
		}
		defer conn.Close()
		b.conn = conn
		if err := b.register(ctx, mux, conn); err != nil {
			return fmt.Errorf("register %s handlers: %w", b.name, err)
		}
		log.Info("proxying", "service", b.name, "addr", b.addr)
	}
	for _, env := range missing {
		log.Warn("service not configured; its routes are off", "env", env)
	}

	root := http.NewServeMux()
	root.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	root.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { ready(w, r, active) })
	root.HandleFunc("/openapi.json", serveOpenAPI)
	root.Handle(docsPath, docsHandler())
	root.Handle("/api/", limitBodies(maxBody, mux))

	srv := &http.Server{
		Addr:              listen,
		Handler:           logRequests(log, root),
		TLSConfig:         tr.server,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: WatchAlerts is a long-lived stream.
	}
	errc := make(chan error, 1)
	go func() {
		if tr.plaintext {
			errc <- srv.ListenAndServe()
			return
		}
		errc <- srv.ListenAndServeTLS("", "")
	}()
	log.Info("gateway listening", "addr", listen, "tls", !tr.plaintext)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// ready answers 200 when every configured backend reports SERVING on the
// standard gRPC health service, 503 otherwise, with each backend's status.
func ready(w http.ResponseWriter, r *http.Request, active []*backend) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	type result struct{ name, status string }
	results := make(chan result, len(active))
	for _, b := range active {
		go func(b *backend) {
			resp, err := healthpb.NewHealthClient(b.conn).Check(ctx, &healthpb.HealthCheckRequest{})
			switch {
			case err != nil:
				results <- result{b.name, "UNAVAILABLE: " + err.Error()}
			default:
				results <- result{b.name, resp.GetStatus().String()}
			}
		}(b)
	}
	statuses := map[string]string{}
	ok := true
	for range active {
		res := <-results
		statuses[res.name] = res.status
		ok = ok && res.status == healthpb.HealthCheckResponse_SERVING.String()
	}
	names := make([]string, 0, len(statuses))
	for n := range statuses {
		names = append(names, n)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "services": statuses})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush passes flushes through so server streams reach the client promptly.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequests logs one JSON line per API request (not per health probe).
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/openapi.json" ||
			strings.HasPrefix(r.URL.Path, docsPath) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
