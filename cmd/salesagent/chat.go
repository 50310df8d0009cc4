package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/channels/web"
)

func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var opts web.ChatOptions
	var cart string
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.Server, "server", envOr("SALESAGENT_SERVER", "http://127.0.0.1:8080"), "base URL of a running salesagent server")
	fs.StringVar(&opts.Shop, "shop", "demo", "slug of the shop to talk to")
	fs.StringVar(&opts.Product, "product", "", "handle or SKU of the product in view")
	fs.StringVar(&cart, "cart", "", "cart as SKU[:QTY],... (quantity defaults to 1)")
	fs.StringVar(&opts.Visitor, "visitor", "", "visitor token of an earlier conversation to continue")
	fs.StringVar(&opts.Message, "message", "", "send one message, print the reply and exit")
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON object per protocol event instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "message" {
			opts.MessageSet = true
		}
	})
	if opts.MessageSet && strings.TrimSpace(opts.Message) == "" {
		return usageError{"empty --message: give the text to send, or leave out --message for an interactive session"}
	}
	items, err := parseCart(cart)
	if err != nil {
		return usageError{err.Error()}
	}
	opts.Cart = items
	opts.In, opts.Out = stdin, stdout
	return web.RunChat(ctx, opts)
}

// parseCart parses "SKU[:QTY],..." into cart items.
func parseCart(s string) ([]salesagent.CartItem, error) {
	var items []salesagent.CartItem
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sku, qty, hasQty := strings.Cut(part, ":")
		item := salesagent.CartItem{SKU: strings.TrimSpace(sku), Quantity: 1}
		if hasQty {
			n, err := strconv.Atoi(strings.TrimSpace(qty))
			if err != nil || n < 1 || n > 999 {
				return nil, fmt.Errorf("invalid --cart quantity %q for %s: use a whole number from 1 to 999, as in %s:2", qty, sku, sku)
			}
			item.Quantity = n
		}
		if item.SKU == "" {
			return nil, fmt.Errorf("invalid --cart entry %q: missing SKU, use SKU[:QTY]", part)
		}
		items = append(items, item)
	}
	return items, nil
}
