package agent

import (
	"context"
	"errors"
)

// errBrainCutoff is the cause of a brain stopped by its cutoff.
var errBrainCutoff = errors.New("the server is shutting down, so the model's reply was cut off")

type cutoffKey struct{}

// WithBrainCutoff returns a context under which HandleMessage stops a
// brain other than the offline one once cutoff is closed, and lets the
// offline agent reply in its place. A turn that starts after cutoff is
// closed uses the offline agent at once. A server closes cutoff when it
// is shutting down, so that turns waiting on a slow model still store a
// reply before the server stops, rather than none.
func WithBrainCutoff(ctx context.Context, cutoff <-chan struct{}) context.Context {
	return context.WithValue(ctx, cutoffKey{}, cutoff)
}

// brainContext returns the context for a turn's brain: one cancelled with
// errBrainCutoff when the turn's cutoff is closed. stop releases it.
func brainContext(ctx context.Context) (brainCtx context.Context, stop func()) {
	cutoff, _ := ctx.Value(cutoffKey{}).(<-chan struct{})
	if cutoff == nil {
		return ctx, func() {}
	}
	brainCtx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-cutoff:
			cancel(errBrainCutoff)
		case <-brainCtx.Done():
		}
	}()
	return brainCtx, func() { cancel(nil) }
}

// cutOff reports whether the turn's cutoff is closed.
func cutOff(ctx context.Context) bool {
	cutoff, _ := ctx.Value(cutoffKey{}).(<-chan struct{})
	if cutoff == nil {
		return false
	}
	select {
	case <-cutoff:
		return true
	default:
		return false
	}
}
