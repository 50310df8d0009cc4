package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

// maxRowErrorsShown bounds how many rejected rows ingest prints one by one.
const maxRowErrorsShown = 50

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, name, format string
	var strict, prune bool
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&slug, "shop", "", "slug of the shop to load into, created if new (required)")
	fs.StringVar(&name, "name", "", "display name of a new shop (default: the slug)")
	names := make([]string, len(ingest.Formats))
	for i, f := range ingest.Formats {
		names[i] = string(f)
	}
	fs.StringVar(&format, "format", "", "format of every PATH, overriding detection: "+strings.Join(names, ", "))
	fs.BoolVar(&strict, "strict", false, "exit with an error when any row is rejected (the good rows still load)")
	fs.BoolVar(&prune, "prune", false, "remove the shop's products missing from these files, and its documents of the kinds loaded that are missing; skipped when any row is rejected")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent ingest --shop SLUG [--name NAME] [--format FORMAT] [--prune] PATH...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if slug == "" {
		return usageError{"missing --shop SLUG: name the shop to load into, for example --shop demo"}
	}
	if !salesagent.ValidSlug(slug) {
		return usageError{fmt.Sprintf("invalid --shop %q: use 1 to 63 lowercase letters, digits and hyphens, as in --shop my-store", slug)}
	}
	if fs.NArg() == 0 {
		return usageError{"missing PATH: give the files or folders to load, for example demo/shop"}
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.Models, err = readModelConfig(); err != nil {
		return usageError{err.Error()}
	}

	for _, path := range fs.Args() {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("cannot read %s: %w (give an existing file or folder)", path, err)
		}
	}

	// Parse before touching the database, so a failed run creates no shop.
	start := time.Now()
	progress := newProgress(stderr, "parsed files")
	batch, rowErrors, err := ingest.ParsePaths(fs.Args(), ingest.Format(format), progress.update)
	progress.done()
	if err != nil {
		return err
	}
	for i, rowErr := range rowErrors {
		if i == maxRowErrorsShown {
			fmt.Fprintf(stderr, "... and %d more rejected rows\n", len(rowErrors)-maxRowErrorsShown)
			break
		}
		fmt.Fprintf(stderr, "rejected: %v\n", rowErr)
	}
	for _, notice := range batch.Notices {
		fmt.Fprintf(stderr, "note: %s\n", notice)
	}
	if skipped := batch.SkippedReviews.String(); skipped != "" {
		fmt.Fprintln(stderr, skipped)
	}
	if len(batch.Products)+len(batch.Documents)+len(batch.Customers)+len(batch.Orders) == 0 {
		return fmt.Errorf("nothing to load from %s: no products, documents, customers or orders found (check the paths and that the files hold rows)",
			strings.Join(fs.Args(), " "))
	}

	db, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, created, err := db.EnsureShop(ctx, slug, name)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created shop %q (%s)\n", shop.Slug, shop.Name)
	}

	m, err := buildModels(cfg.Models, logger, nil)
	if err != nil {
		return err
	}
	indexer := m.indexer(db, logger)
	report, err := load(ctx, db, indexer, shop, batch, stderr)
	if err != nil {
		return err
	}
	for _, rejected := range report.Rejected {
		fmt.Fprintf(stderr, "rejected: %v\n", rejected)
	}
	rejectedCount := len(rowErrors) + len(report.Rejected)
	if prune {
		if err := pruneCatalog(ctx, db, shop, batch, rejectedCount, stdout, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "loaded into shop %q in %s:\n%s", shop.Slug, time.Since(start).Round(time.Millisecond), report)
	fmt.Fprintf(stdout, "widget key: %s\n", shop.WidgetKey)
	if rejectedCount > 0 {
		fmt.Fprintf(stdout, "%d rows rejected (listed above); the other rows were loaded\n", rejectedCount)
		if strict {
			return fmt.Errorf("%d rows rejected and --strict is set", rejectedCount)
		}
	}
	return nil
}

// pruneCatalog removes what the shop has and the batch lacks, unless rows
// were rejected: a rejected product is missing from the batch too, and
// pruning would delete it.
func pruneCatalog(ctx context.Context, db *postgres.DB, shop *salesagent.Shop, batch *ingest.Batch, rejected int, stdout, stderr io.Writer) error {
	if rejected > 0 {
		fmt.Fprintf(stderr, "not pruning: %d rows were rejected, and their products would be removed; fix them and run again\n", rejected)
		return nil
	}
	products := make([]string, 0, len(batch.Products))
	for _, p := range batch.Products {
		products = append(products, p.ExternalID)
	}
	documents := make([]postgres.DocumentKey, 0, len(batch.Documents))
	for _, d := range batch.Documents {
		documents = append(documents, postgres.DocumentKey{Kind: d.Kind, Key: d.Key})
	}
	removed, err := db.PruneCatalog(ctx, shop.ID, products, documents)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pruned %d products and %d documents missing from the files\n", removed.Products, removed.Documents)
	return nil
}

// openMigrated opens the database and applies pending migrations.
func openMigrated(ctx context.Context, cfg Config, logger *slog.Logger) (*postgres.DB, error) {
	db, version, err := postgres.OpenMigrated(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	logger.DebugContext(ctx, "database schema current", "version", version)
	return db, nil
}

// loadReport counts what a load changed.
type loadReport struct {
	Products, Documents postgres.UpsertResult
	Customers, Orders   int
	Index               retrieval.IndexStats
	// Rejected are the products and customers the database refused.
	Rejected []error
}

func (r loadReport) String() string {
	index := "nothing changed, so nothing was embedded again"
	if r.Index != (retrieval.IndexStats{}) {
		index = fmt.Sprintf("%d chunks written, %d unchanged, %d deleted, %d embeddings computed",
			r.Index.ChunksWritten, r.Index.ChunksUnchanged, r.Index.ChunksDeleted, r.Index.EmbeddingsComputed)
	}
	return fmt.Sprintf("  products:  %d new, %d changed, %d unchanged\n"+
		"  documents: %d new, %d changed, %d unchanged\n"+
		"  customers: %d, orders: %d\n"+
		"  index:     %s\n",
		r.Products.Inserted, r.Products.Updated, r.Products.Unchanged,
		r.Documents.Inserted, r.Documents.Updated, r.Documents.Unchanged,
		r.Customers, r.Orders, index)
}

func addStats(a, b retrieval.IndexStats) retrieval.IndexStats {
	a.ChunksWritten += b.ChunksWritten
	a.ChunksUnchanged += b.ChunksUnchanged
	a.ChunksDeleted += b.ChunksDeleted
	a.EmbeddingsComputed += b.EmbeddingsComputed
	return a
}

// productBatchSize is how many products are stored and indexed per step,
// so progress shows on long loads.
const productBatchSize = 200

// load stores a parsed batch in the shop and indexes what changed.
func load(ctx context.Context, db *postgres.DB, indexer *retrieval.Indexer, shop *salesagent.Shop, batch *ingest.Batch, progressOut io.Writer) (loadReport, error) {
	var report loadReport

	progress := newProgress(progressOut, "stored products")
	for start := 0; start < len(batch.Products); start += productBatchSize {
		end := min(start+productBatchSize, len(batch.Products))
		result, err := db.UpsertProducts(ctx, shop.ID, batch.Products[start:end])
		if err != nil {
			return report, err
		}
		report.Products.Inserted += result.Inserted
		report.Products.Updated += result.Updated
		report.Products.Unchanged += result.Unchanged
		report.Rejected = append(report.Rejected, result.Rejected...)
		stats, err := indexer.IndexProducts(ctx, shop.ID, result.ChangedIDs)
		if err != nil {
			return report, fmt.Errorf("index products: %w", err)
		}
		report.Index = addStats(report.Index, stats)
		progress.update(end, len(batch.Products))
	}
	progress.done()

	docs, err := db.UpsertDocuments(ctx, shop.ID, batch.Documents)
	if err != nil {
		return report, err
	}
	report.Documents = docs
	stats, err := indexer.IndexDocuments(ctx, shop.ID, docs.ChangedIDs)
	if err != nil {
		return report, fmt.Errorf("index documents: %w", err)
	}
	report.Index = addStats(report.Index, stats)

	// A customer whose email another stored customer has, such as one
	// loaded by an earlier ingest under another id, is rejected alone.
	imported, err := db.ImportCustomers(ctx, shop.ID, batch.Customers)
	if err != nil {
		return report, err
	}
	for _, rejected := range imported.Rejected {
		if where := batch.CustomerOrigin(rejected.Index); where != "" {
			report.Rejected = append(report.Rejected, fmt.Errorf("%s: %w", where, rejected))
		} else {
			report.Rejected = append(report.Rejected, rejected)
		}
	}
	customerIDs := imported.IDs
	report.Customers = len(customerIDs)

	// Orders may name customers loaded by an earlier ingest.
	var missing []string
	for _, o := range batch.Orders {
		if _, ok := customerIDs[o.CustomerExternalID]; !ok && o.CustomerExternalID != "" {
			missing = append(missing, o.CustomerExternalID)
		}
	}
	if len(missing) > 0 {
		known, err := db.CustomerIDsByExternalID(ctx, shop.ID, missing)
		if err != nil {
			return report, err
		}
		for ext, id := range known {
			customerIDs[ext] = id
		}
	}

	// Guest orders carry only an email, which may be a customer's from an
	// earlier ingest.
	var guestEmails []string
	for _, o := range batch.Orders {
		if o.CustomerExternalID == "" && o.CustomerEmail != "" {
			guestEmails = append(guestEmails, o.CustomerEmail)
		}
	}
	byEmail := map[string]int64{}
	if len(guestEmails) > 0 {
		if byEmail, err = db.CustomerIDsByEmail(ctx, shop.ID, guestEmails); err != nil {
			return report, err
		}
	}
	// A guest who never registered becomes a customer known by email, so
	// that order_status can show them their order once they give it.
	var guests []salesagent.Customer
	seen := map[string]bool{}
	for _, email := range guestEmails {
		key := strings.ToLower(strings.TrimSpace(email))
		if _, ok := byEmail[key]; ok || seen[key] {
			continue
		}
		seen[key] = true
		guests = append(guests, salesagent.Customer{ExternalID: guestExternalID(key), Email: strings.TrimSpace(email)})
	}
	if len(guests) > 0 {
		ids, err := db.UpsertCustomers(ctx, shop.ID, guests)
		if err != nil {
			return report, fmt.Errorf("store guest customers of the orders: %w", err)
		}
		for _, g := range guests {
			if id, ok := ids[g.ExternalID]; ok {
				byEmail[strings.ToLower(g.Email)] = id
			}
		}
		report.Customers += len(guests)
	}

	orders := make([]salesagent.Order, 0, len(batch.Orders))
	for _, o := range batch.Orders {
		order := o.Order
		if id, ok := customerIDs[o.CustomerExternalID]; ok {
			order.CustomerID = &id
		} else if id, ok := byEmail[strings.ToLower(strings.TrimSpace(o.CustomerEmail))]; ok && o.CustomerExternalID == "" {
			order.CustomerID = &id
		}
		orders = append(orders, order)
	}
	if err := db.UpsertOrders(ctx, shop.ID, orders); err != nil {
		return report, err
	}
	report.Orders = len(orders)
	return report, nil
}

// guestExternalID is the external id of a customer made from a guest
// order's email: "guest:" and the email in lowercase.
func guestExternalID(email string) string {
	return "guest:" + strings.ToLower(email)
}

// progress prints "label: done/total", redrawn on one line at most a few
// times a second on a terminal, and once at the end elsewhere.
type progress struct {
	w        io.Writer
	label    string
	terminal bool
	last     time.Time
	shown    bool
	latest   [2]int
}

func newProgress(w io.Writer, label string) *progress {
	terminal := false
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil {
			terminal = info.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, label: label, terminal: terminal}
}

func (p *progress) update(done, total int) {
	p.latest = [2]int{done, total}
	if !p.terminal || total < 2 || (time.Since(p.last) < 200*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r%s: %d/%d", p.label, done, total)
}

func (p *progress) done() {
	switch {
	case p.shown:
		fmt.Fprintln(p.w)
	case p.latest[1] >= 2:
		fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, p.latest[0], p.latest[1])
	}
}
