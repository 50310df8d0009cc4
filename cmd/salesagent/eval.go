package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/agent/eval"
	"github.com/salesagent/salesagent/demo"
	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

// Slugs of the shops that eval loads and talks to. They are apart from
// the shops that ingest and serve use, so that eval conversations never
// show up in a real shop's console.
const (
	evalDemoSlug = "eval-demo"
	evalTauSlug  = "eval-tau"
)

// evalMaxDiscountPercent caps the discounts that apply_discount may grant
// in the eval shops. It equals the 10% off that the demo shop's newsletter
// code gives, so a brain may grant a discount the shop already offers, and
// the rules scenarios check that no discount goes above it.
const evalMaxDiscountPercent = 10

// evalConfig holds the settings salesagent eval reads from its flags.
type evalConfig struct {
	Config
	Scenarios   string
	Groups      []string
	JSON        bool
	Verbose     bool
	MinPassRate passRate
	DemoData    string
	TauData     string
	TurnTimeout time.Duration
	// RequireData makes missing τ-bench data an error instead of a skip,
	// as under CI=true.
	RequireData bool
}

// runEval runs the scenarios against the agent serve would run: the LLM
// that SALESAGENT_LLM_* names, or the offline agent when none is set.
// salesagent eval retrieval scores search on judged files instead.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "retrieval" {
		return runEvalRetrieval(ctx, args[1:], stdout, stderr)
	}
	models, err := readModelConfig()
	if err != nil {
		return usageError{err.Error()}
	}
	m, err := buildModels(models, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	return runEvalWith(ctx, args, stdout, stderr, m.brains)
}

// runEvalWith runs salesagent eval with brains choosing each shop's brain;
// nil means the offline agent.
func runEvalWith(ctx context.Context, args []string, stdout, stderr io.Writer, brains func(*salesagent.Shop) agent.Brain) error {
	cfg, err := parseEvalFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Config, stderr)
	if err != nil {
		return err
	}

	scenarios, err := eval.Load(cfg.Scenarios)
	if err != nil {
		return err
	}
	scenarios = filterGroups(scenarios, cfg.Groups)
	if len(scenarios) == 0 {
		return fmt.Errorf("no scenarios of group %s in %s", strings.Join(cfg.Groups, ", "), cfg.Scenarios)
	}

	db, err := openMigrated(ctx, cfg.Config, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	embedder := retrieval.NewLocalEmbedder()
	shops, unavailable, err := loadEvalShops(ctx, db, retrieval.NewIndexer(db, embedder, logger), cfg, shopsUsed(scenarios), stderr)
	if err != nil {
		return err
	}

	runner := &eval.Runner{
		DB: db, Search: retrieval.NewSearcher(db, embedder), Brains: brains,
		Shops: shops, Unavailable: unavailable, TurnTimeout: cfg.TurnTimeout, Logger: logger,
	}
	report, err := runner.Run(ctx, scenarios)
	if err != nil {
		return err
	}
	if cfg.JSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout, cfg.Verbose)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return checkPassRate(report.Total, cfg.MinPassRate)
}

func parseEvalFlags(args []string, stderr io.Writer) (evalConfig, error) {
	cfg := evalConfig{RequireData: os.Getenv("CI") == "true"}
	var groups string

	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg.Config)
	// Every turn logs a line at info, which would bury the report, so eval
	// logs warnings and errors unless --log-level or SALESAGENT_LOG_LEVEL
	// sets another level.
	if os.Getenv("SALESAGENT_LOG_LEVEL") == "" {
		_ = fs.Set("log-level", "warn")
		fs.Lookup("log-level").DefValue = "warn"
	}
	fs.StringVar(&cfg.Scenarios, "scenarios", "evals", "scenario file, or folder of *.json scenario files")
	fs.StringVar(&groups, "group", "", "run only these groups, comma-separated: "+strings.Join(eval.Groups, ", "))
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON, with every turn's reply, tools and failures")
	fs.BoolVar(&cfg.Verbose, "verbose", false, "print every failed expectation with the replies of its scenario")
	fs.Var(&cfg.MinPassRate, "min-pass-rate", "exit with an error when the total pass rate is below this fraction, such as 0.8 or 80%")
	fs.StringVar(&cfg.DemoData, "demo-data", "demo/shop", "folder of the demo shop's files")
	fs.StringVar(&cfg.TauData, "tau-data", defaultTauData(), "folder of the τ-bench retail data (products.json, users.json, orders.json)")
	fs.DurationVar(&cfg.TurnTimeout, "turn-timeout", eval.DefaultTurnTimeout, "longest wait for one reply of the agent")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent eval [flags]\n\nRuns the conversation scenarios against the agent and prints the pass rate per group.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}

	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Sprintf("unexpected argument %q: give the scenarios with --scenarios PATH", fs.Arg(0))}
	}
	if cfg.TurnTimeout <= 0 {
		return cfg, usageError{fmt.Sprintf("invalid --turn-timeout %s: use a positive duration such as 60s", cfg.TurnTimeout)}
	}

	for _, g := range strings.Split(groups, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !slices.Contains(eval.Groups, g) {
			return cfg, usageError{fmt.Sprintf("invalid --group %q: use one of %s", g, strings.Join(eval.Groups, ", "))}
		}
		cfg.Groups = append(cfg.Groups, g)
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["tau-data"] && !isDir(cfg.TauData) {
		return cfg, usageError{fmt.Sprintf("invalid --tau-data %q: no such folder; give the folder holding products.json, users.json and orders.json", cfg.TauData)}
	}
	if _, err := os.Stat(cfg.Scenarios); err != nil {
		return cfg, usageError{fmt.Sprintf("scenarios %q not found: run eval from the repository root or pass --scenarios PATH", cfg.Scenarios)}
	}
	return cfg, nil
}

// defaultTauData returns the τ-bench data folder under shared/data, or ""
// when no shared/data folder is found.
func defaultTauData() string {
	dir, err := shareddata.Dir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tau-bench-retail", "v1", "data")
}

// passRate is a fraction from 0 to 1, written as "0.8" or "80%".
type passRate float64

func (p *passRate) String() string { return strconv.FormatFloat(float64(*p), 'f', -1, 64) }

func (p *passRate) Set(s string) error {
	text := strings.TrimSpace(s)
	percent := strings.HasSuffix(text, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(text, "%"), 64)
	if percent {
		v /= 100
	}
	if err != nil || v < 0 || v > 1 {
		return fmt.Errorf("invalid pass rate %q: use a fraction from 0 to 1, such as 0.8, or a percentage such as 80%%", s)
	}
	*p = passRate(v)
	return nil
}

// checkPassRate returns an error when the run's pass rate is below min.
func checkPassRate(total eval.Summary, min passRate) error {
	if min <= 0 {
		return nil
	}
	if total.Run == 0 {
		return fmt.Errorf("no scenario ran, so the pass rate cannot reach --min-pass-rate %s", min.String())
	}
	if total.Rate < float64(min) {
		return fmt.Errorf("pass rate %.1f%% (%d of %d scenarios) is below --min-pass-rate %.1f%%",
			total.Rate*100, total.Passed, total.Run, float64(min)*100)
	}
	return nil
}

func filterGroups(scenarios []*eval.Scenario, groups []string) []*eval.Scenario {
	if len(groups) == 0 {
		return scenarios
	}
	var kept []*eval.Scenario
	for _, s := range scenarios {
		if slices.Contains(groups, s.Group) {
			kept = append(kept, s)
		}
	}
	return kept
}

func shopsUsed(scenarios []*eval.Scenario) []string {
	var names []string
	for _, s := range scenarios {
		if !slices.Contains(names, s.Shop) {
			names = append(names, s.Shop)
		}
	}
	return names
}

// loadEvalShops loads each named shop's files into its eval shop and
// returns the loaded shops by scenario shop name. Missing τ-bench data
// makes its shop unavailable, with the reason, unless cfg.RequireData is
// set, when it is an error. The demo shop's files ship with the source,
// so missing ones are always an error.
func loadEvalShops(ctx context.Context, db *postgres.DB, indexer *retrieval.Indexer, cfg evalConfig, names []string, stderr io.Writer) (map[string]*salesagent.Shop, map[string]string, error) {
	shops := map[string]*salesagent.Shop{}
	unavailable := map[string]string{}
	for _, name := range names {
		var slug, title, path string
		switch name {
		case eval.ShopDemo:
			slug, title, path = evalDemoSlug, demo.Name, cfg.DemoData
			if !isDir(path) {
				return nil, nil, fmt.Errorf("demo shop files not found in %q: run from the repository root or pass --demo-data DIR", path)
			}
		case eval.ShopTau:
			slug, title, path = evalTauSlug, "τ-bench retail", cfg.TauData
			if !isDir(path) {
				reason := fmt.Sprintf("τ-bench data not found in %q; pass --tau-data DIR or set SALESAGENT_SHARED_DATA", path)
				if path == "" {
					reason = "τ-bench data not found: no shared/data folder beside the working directory or its parents; pass --tau-data DIR or set SALESAGENT_SHARED_DATA"
				}
				if cfg.RequireData {
					return nil, nil, fmt.Errorf("%s (CI=true requires it)", reason)
				}
				unavailable[name] = reason
				continue
			}
		default:
			return nil, nil, fmt.Errorf("scenario shop %q has no data to load", name)
		}

		shop, err := loadEvalShop(ctx, db, indexer, slug, title, path, stderr)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s shop from %s: %w", name, path, err)
		}
		shops[name] = shop
	}
	return shops, unavailable, nil
}

// loadEvalShop parses the files in path and loads them into the shop with
// the given slug, creating it if new, and sets its discount cap. Unchanged
// files are not embedded again, so a repeated run loads quickly.
func loadEvalShop(ctx context.Context, db *postgres.DB, indexer *retrieval.Indexer, slug, name, path string, stderr io.Writer) (*salesagent.Shop, error) {
	batch, rowErrors, err := ingest.ParsePaths([]string{path}, "", nil)
	if err != nil {
		return nil, err
	}
	shop, _, err := db.EnsureShop(ctx, slug, name)
	if err != nil {
		return nil, err
	}
	if shop.Settings.MaxDiscountPercent != evalMaxDiscountPercent {
		shop.Settings.MaxDiscountPercent = evalMaxDiscountPercent
		if err := db.UpdateShop(ctx, shop); err != nil {
			return nil, fmt.Errorf("set the discount cap of shop %s: %w", slug, err)
		}
	}

	report, err := load(ctx, db, indexer, shop, batch, io.Discard)
	if err != nil {
		return nil, err
	}
	if rejected := len(rowErrors) + len(report.Rejected); rejected > 0 {
		// Scenarios may name a rejected product, so the count is shown;
		// salesagent ingest lists the rows.
		fmt.Fprintf(stderr, "eval: %d rows of %s were rejected; run salesagent ingest on it to see them\n", rejected, path)
	}
	return shop, nil
}

func isDir(path string) bool {
	if path == "" {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
