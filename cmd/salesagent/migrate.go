package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/salesagent/salesagent/migrations"
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

	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	version, err := migrations.Up(ctx, db.Pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database schema at version %d\n", version)
	return nil
}
