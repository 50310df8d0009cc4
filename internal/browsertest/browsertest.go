// Package browsertest drives Debian's headless Chromium for the browser
// tests, and reaches into the widget's Shadow DOM.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is the browser binary of Debian's chromium package.
const ChromiumPath = "/usr/bin/chromium"

// New starts headless Chromium with a fresh profile and returns a context
// for driving one tab. Without Chromium the test is skipped, except under
// CI=true, where it fails.
func New(t *testing.T) context.Context {
	t.Helper()
	path := ChromiumPath
	if _, err := os.Stat(path); err != nil {
		found, lookErr := exec.LookPath("chromium")
		if lookErr != nil {
			msg := fmt.Sprintf("chromium not found at %s or on PATH; run scripts/setup.sh --browser", ChromiumPath)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		path = found
	}

	// The background-networking flags keep Chromium from calling outside
	// hosts, which this machine's closed network refuses.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// Incognito returns a tab in a new browser context of the browser behind
// ctx, with its own cookies and storage, as a second person at another
// computer would have.
func Incognito(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	// The browser starts with the first action on ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start browser: %v", err)
	}
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab in a new browser context: %v", err)
	}
	return tab
}

// Paths into the widget's open Shadow DOM.
const (
	WidgetRoot    = `document.querySelector("#salesagent-widget").shadowRoot`
	LauncherPath  = WidgetRoot + `.querySelector("button.launcher")`
	InputPath     = WidgetRoot + `.querySelector("#sa-input")`
	WidgetMounted = `!!(document.querySelector("#salesagent-widget") && document.querySelector("#salesagent-widget").shadowRoot.querySelector("button.launcher"))`
)

// Eval evaluates expr in the page and returns its value.
func Eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Poll waits up to 20 seconds until expr is true in the page.
func Poll(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		wait := chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
		_, err := wait(ctx, target)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("wait for %s: %w", expr, err)
		}
		return chromedp.Void{}, nil
	}
}

// Exec evaluates the script expr in the page and ignores its value.
func Exec(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](expr)(ctx, target)
		return chromedp.Void{}, err
	}
}
