package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/salesagent/salesagent/retrieval"
)

func runEmbedder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, use string
	fs := flag.NewFlagSet("embedder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&slug, "shop", "", "slug of the shop (required)")
	fs.StringVar(&use, "use", "", "switch the shop to this embedder; running servers re-embed in the background while search keeps the old vectors")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent embedder --shop SLUG [--use NAME]   (without --use: print the shop's embedders and switch progress)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if slug == "" {
		return usageError{"missing --shop SLUG: name the shop, for example --shop demo"}
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.Models, err = readModelConfig(); err != nil {
		return usageError{err.Error()}
	}
	m, err := buildModels(cfg.Models, logger, nil)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, err := loadShop(ctx, db, slug)
	if err != nil {
		return err
	}

	if use != "" {
		embedder, ok := m.embedders[use]
		if !ok {
			names := make([]string, 0, len(m.embedders))
			for name := range m.embedders {
				names = append(names, name)
			}
			sort.Strings(names)
			return usageError{fmt.Sprintf("unknown embedder %q: configured are %s (set SALESAGENT_EMBEDDING_MODEL to add an OpenAI-compatible one)",
				use, strings.Join(names, ", "))}
		}
		jobs, err := newJobs(db, m, logger, false)
		if err != nil {
			return err
		}
		result, err := retrieval.SwitchEmbedder(ctx, db, jobs, shop, embedder)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "switch of shop %s to %s: %s\n", shop.Slug, embedder.Name(), result)
	}

	progress, err := retrieval.ShopEmbedderProgress(ctx, db, shop.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "active embedder: %s\n", progress.Active)
	if progress.Pending != "" {
		fmt.Fprintf(stdout, "switching to:    %s (%d of %d chunks embedded; a running salesagent serve with the same embedder configured does the work)\n",
			progress.Pending, progress.PendingEmbedded, progress.Chunks)
	}
	return nil
}
