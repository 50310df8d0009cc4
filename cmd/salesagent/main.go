// Command salesagent runs the salesagent gateway and its tools.
//
// Usage:
//
//	salesagent serve    start the HTTP server (widget, WebSocket, shop pages)
//	salesagent migrate  apply database migrations
//	salesagent ingest   load catalog, FAQ, policy, size-guide and CRM files into a shop
//	salesagent shop     show or change a shop's settings, such as allowed origins
//	salesagent chat     talk to a running server as the widget does
//	salesagent eval     run the conversation scenarios and print pass rates
//	salesagent bench    measure latency, idle connections and webhook acks on loopback
//	salesagent operator add an operator who answers conversations in the console
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `salesagent: a conversational sales agent for online stores.

Usage:
  salesagent serve    [flags]                   start the server
  salesagent migrate  [flags]                   apply database migrations
  salesagent ingest   --shop SLUG PATH...       load store files into a shop
  salesagent shop     --shop SLUG [flags]       show or change a shop's settings (--list: every shop)
  salesagent chat     [flags]                   talk to a running server
  salesagent eval     [flags]                   run the conversation scenarios and print pass rates
  salesagent eval retrieval FILE...             score search on judged product-search files
  salesagent bench    load|sockets|webhooks     measure latency, idle connections and webhook acks on 127.0.0.1
  salesagent embedder --shop SLUG [--use NAME]  show or switch a shop's embedder
  salesagent operator add|set --shop SLUG --email E ...  add or change a console operator

Run "salesagent COMMAND -h" for a command's flags.
Every command reads SALESAGENT_DATABASE_URL (or --database-url).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "salesagent: %v\n", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in the command line, reported with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"missing command"}
	}
	command, rest := args[0], args[1:]
	switch command {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "ingest":
		return runIngest(ctx, rest, stdout, stderr)
	case "chat":
		return runChat(ctx, rest, stdin, stdout, stderr)
	case "shop":
		return runShop(ctx, rest, stdout, stderr)
	case "eval":
		return runEval(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdin, stdout, stderr)
	case "embedder":
		return runEmbedder(ctx, rest, stdout, stderr)
	case "operator":
		return runOperator(ctx, rest, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", command)}
}
