package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/salesagent/salesagent/postgres"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	db, version, err := postgres.OpenMigrated(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "database schema at version %d\n", version)
	return nil
}
