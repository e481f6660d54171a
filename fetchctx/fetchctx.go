// Package fetchctx carries what travels with a sandbox's outbound request in its context:
// which worker made it (for the egress audit) and fetch's redirect mode. It lets the engine
// and any outbound transport (the egress gateway) agree on these without importing each
// other.
package fetchctx

import "context"

type workerKey struct{}
type redirectKey struct{}

// WithWorker returns a context whose requests are attributed to worker id.
func WithWorker(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, workerKey{}, id)
}

// Worker returns the worker id set by WithWorker, or "".
func Worker(ctx context.Context) string {
	id, _ := ctx.Value(workerKey{}).(string)
	return id
}

// The redirect modes of fetch().
const (
	Follow = "follow" // the transport follows redirects
	Manual = "manual" // a 3xx response comes back as it is
	Error  = "error"  // a redirect is an error (the engine checks; transports follow)
)

// WithRedirect returns a context carrying fetch's redirect mode.
func WithRedirect(ctx context.Context, mode string) context.Context {
	return context.WithValue(ctx, redirectKey{}, mode)
}

// Redirect returns the redirect mode set by WithRedirect, or Follow.
func Redirect(ctx context.Context) string {
	if m, ok := ctx.Value(redirectKey{}).(string); ok && m != "" {
		return m
	}
	return Follow
}
