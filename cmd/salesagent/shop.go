package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/text/currency"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/console"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runShop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, name, currency, tone, hours, baseURL string
	var origins, removeOrigins stringList
	var maxDiscount float64
	var llmBaseURL, llmModel, llmProvider, llmKeyEnv string
	var llmOff bool
	var waPhone, waTokenEnv, waSecretEnv, waVerifyEnv, waTemplate, waTemplateLang string
	var waOff bool
	var hookURL, hookSecretEnv string
	var hookOff bool
	var synonymsPath, confirm string
	var remove, list bool
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg)
	fs.StringVar(&slug, "shop", "", "slug of the shop to show or change (required)")
	fs.StringVar(&name, "name", "", "set the shop's display name")
	fs.StringVar(&currency, "currency", "", "set the ISO 4217 currency code of prices, such as USD or EUR")
	fs.StringVar(&tone, "tone", "", "set how the agent should sound, in a few words")
	fs.StringVar(&hours, "support-hours", "", "set when people answer handed-off conversations, such as \"Mon-Fri 9-17 CET\"")
	fs.StringVar(&baseURL, "base-url", "", "set the storefront's public URL, used in saved-cart links")
	fs.Var(&origins, "allow-origin", "allow the widget on this origin, such as https://store.example.com (repeatable)")
	fs.Var(&removeOrigins, "remove-origin", "stop allowing the widget on this origin (repeatable)")
	fs.Float64Var(&maxDiscount, "max-discount", -1, "set the largest discount in percent a tool may grant; 0 allows none")
	fs.StringVar(&llmBaseURL, "llm-base-url", "", "set the shop's own OpenAI-compatible API root, such as http://127.0.0.1:11434/v1")
	fs.StringVar(&llmModel, "llm-model", "", "set the shop's chat model (the deployment name on Azure)")
	fs.StringVar(&llmProvider, "llm-provider", "", "set the shop's LLM provider: openai or azure")
	fs.StringVar(&llmKeyEnv, "llm-api-key-env", "", "read the shop's LLM API key from this environment variable, so the key stays off the command line")
	fs.StringVar(&waPhone, "whatsapp-phone-number-id", "", "connect the shop to this WhatsApp Cloud API phone number id")
	fs.StringVar(&waTokenEnv, "whatsapp-access-token-env", "", "read the WhatsApp access token from this environment variable")
	fs.StringVar(&waSecretEnv, "whatsapp-app-secret-env", "", "read the Meta app secret, which signs webhooks, from this environment variable")
	fs.StringVar(&waVerifyEnv, "whatsapp-verify-token-env", "", "read the webhook verify token from this environment variable")
	fs.StringVar(&waTemplate, "whatsapp-template", "", "approved template sent in place of a reply after the 24-hour window")
	fs.StringVar(&waTemplateLang, "whatsapp-template-language", "en_US", "language code of --whatsapp-template")
	fs.BoolVar(&waOff, "whatsapp-disable", false, "disconnect the shop from WhatsApp")
	fs.StringVar(&hookURL, "handoff-webhook-url", "", "post a signed JSON notification to this URL whenever a conversation starts waiting for a person (Slack, Make, n8n)")
	fs.StringVar(&hookSecretEnv, "handoff-webhook-secret-env", "", "read the key that signs handoff notifications (HMAC-SHA256) from this environment variable")
	fs.BoolVar(&hookOff, "handoff-webhook-disable", false, "stop sending handoff notifications")
	fs.StringVar(&synonymsPath, "synonyms", "", "replace the shop's search synonyms with this file in the Solr synonyms format (\"tee, t-shirt\" or \"lockset => door knob\" a line); an empty file clears them")
	fs.BoolVar(&llmOff, "llm-disabled", false, "answer this shop's shoppers with the offline agent even when an LLM is configured")
	fs.BoolVar(&list, "list", false, "list every shop with its products, documents, conversations and the conversations waiting for a person")
	fs.BoolVar(&remove, "delete", false, "delete the shop with its catalog, documents, conversations and customers; asks for --confirm SLUG")
	fs.StringVar(&confirm, "confirm", "", "with --delete: the shop's slug again, to confirm")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: salesagent shop --shop SLUG [flags]   (without flags: print the shop's settings)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if list {
		var extra string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "list", "database-url", "log-level", "log-format":
			default:
				if extra == "" {
					extra = f.Name
				}
			}
		})
		if extra != "" {
			return usageError{fmt.Sprintf("--list shows every shop and cannot be combined with --%s: run them as separate commands", extra)}
		}
		return listShops(ctx, cfg, stdout, stderr)
	}
	if slug == "" {
		return usageError{"missing --shop SLUG: name the shop to show or change, for example --shop demo, or list the shops with --list"}
	}
	if !salesagent.ValidSlug(slug) {
		return usageError{fmt.Sprintf("invalid --shop %q: use 1 to 63 lowercase letters, digits and hyphens, as in --shop my-store", slug)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q: shop takes only flags", fs.Arg(0))}
	}
	if err := checkDeleteFlags(fs, remove, confirm); err != nil {
		return err
	}
	// The file is read before the database is touched, so a bad line
	// changes nothing.
	var synonyms []salesagent.SynonymRule
	if synonymsPath != "" {
		rules, err := readSynonyms(synonymsPath)
		if err != nil {
			return err
		}
		synonyms = rules
	}
	logger, err := newLogger(cfg, stderr)
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
	if remove {
		return deleteShop(ctx, db, shop, confirm, stdout)
	}

	changed := false
	set := func(flagName string, apply func()) {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == flagName {
				apply()
				changed = true
			}
		})
	}
	set("name", func() { shop.Name = name })
	set("currency", func() { shop.Currency = strings.ToUpper(currency) })
	set("tone", func() { shop.Settings.Tone = tone })
	set("support-hours", func() { shop.Settings.SupportHours = hours })
	set("base-url", func() { shop.Settings.BaseURL = strings.TrimRight(baseURL, "/") })
	set("max-discount", func() { shop.Settings.MaxDiscountPercent = maxDiscount })
	llm := func() *salesagent.LLMSettings {
		if shop.Settings.LLM == nil {
			shop.Settings.LLM = &salesagent.LLMSettings{}
		}
		return shop.Settings.LLM
	}
	set("llm-base-url", func() { llm().BaseURL = llmBaseURL })
	set("llm-model", func() { llm().Model = llmModel })
	set("llm-provider", func() { llm().Provider = llmProvider })
	set("llm-disabled", func() { llm().Disabled = llmOff })
	if llmKeyEnv != "" {
		key := os.Getenv(llmKeyEnv)
		if key == "" {
			return usageError{fmt.Sprintf("invalid --llm-api-key-env %s: that environment variable is empty or unset", llmKeyEnv)}
		}
		llm().APIKey = key
		changed = true
	}
	if err := applyWhatsApp(fs, shop, waPhone, waTemplate, waTemplateLang, waOff, map[string]*string{
		"whatsapp-access-token-env": &waTokenEnv, "whatsapp-app-secret-env": &waSecretEnv, "whatsapp-verify-token-env": &waVerifyEnv,
	}, &changed); err != nil {
		return err
	}
	if err := applyHandoffWebhook(fs, shop, hookURL, hookSecretEnv, hookOff, &changed); err != nil {
		return err
	}
	for _, origin := range origins {
		normalized, err := normalizeOrigin(origin)
		if err != nil {
			return usageError{err.Error()}
		}
		if !contains(shop.AllowedOrigins, normalized) {
			shop.AllowedOrigins = append(shop.AllowedOrigins, normalized)
		}
		changed = true
	}
	for _, origin := range removeOrigins {
		normalized, _ := normalizeOrigin(origin)
		kept := shop.AllowedOrigins[:0]
		for _, o := range shop.AllowedOrigins {
			if o != normalized && o != origin {
				kept = append(kept, o)
			}
		}
		shop.AllowedOrigins = kept
		changed = true
	}
	if err := validateShop(shop); err != nil {
		return usageError{err.Error()}
	}
	if changed {
		if err := db.UpdateShop(ctx, shop); err != nil {
			return err
		}
	}
	if synonymsPath != "" {
		if err := db.ReplaceSynonyms(ctx, shop.ID, synonyms); err != nil {
			return fmt.Errorf("load %s: %w", synonymsPath, err)
		}
		// The rules are stored by now, so a failed check only warns.
		dropped, err := db.SynonymStopWords(ctx, synonyms)
		if err != nil {
			fmt.Fprintf(stderr, "warning: %s was loaded, but checking its terms for stop words failed: %v\n", synonymsPath, err)
		}
		for _, d := range dropped {
			fmt.Fprintf(stderr, "warning: %s line %d: search ignores the stop words %s of %q; reword the term if they matter\n",
				synonymsPath, d.Line, quoteList(d.Words), d.Term)
		}
		if len(synonyms) == 0 {
			fmt.Fprintf(stdout, "cleared the search synonyms: %s has no rules. Running servers stop using them within about %s.\n", synonymsPath, retrieval.LexiconMaxAge)
		} else {
			fmt.Fprintf(stdout, "loaded %s from %s. Running servers switch to them within about %s.\n", plural(len(synonyms), "synonym rule"), synonymsPath, retrieval.LexiconMaxAge)
		}
	}
	if err := printShop(stdout, shop); err != nil {
		return err
	}
	stored, err := db.ShopSynonyms(ctx, shop.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "synonyms:        %s\n", plural(len(stored), "rule"))
	return nil
}

// readSynonyms parses the synonyms file at path.
func readSynonyms(path string) ([]salesagent.SynonymRule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open synonyms file: %w (give an existing file)", err)
	}
	defer f.Close()
	rules, err := retrieval.ParseSynonyms(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rules, nil
}

// applyWhatsApp changes the shop's WhatsApp settings from the flags that
// were given. Secrets come from environment variables named by the *-env
// flags, so they stay out of shell history.
func applyWhatsApp(fs *flag.FlagSet, shop *salesagent.Shop, phone, template, language string, off bool, secretEnvs map[string]*string, changed *bool) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["whatsapp-disable"] && off {
		shop.Settings.WhatsApp = nil
		*changed = true
		return nil
	}

	wa := shop.Settings.WhatsApp
	if wa == nil {
		wa = &salesagent.WhatsAppSettings{}
	}

	touched := false
	if given["whatsapp-phone-number-id"] {
		wa.PhoneNumberID, touched = phone, true
	}
	if given["whatsapp-template"] {
		wa.Template, touched = &salesagent.WhatsAppTemplate{Name: template, Language: language}, true
	}

	for flagName, envName := range secretEnvs {
		if !given[flagName] {
			continue
		}
		value := os.Getenv(*envName)
		if value == "" {
			return usageError{fmt.Sprintf("invalid --%s %s: that environment variable is empty or unset", flagName, *envName)}
		}
		switch flagName {
		case "whatsapp-access-token-env":
			wa.AccessToken = value
		case "whatsapp-app-secret-env":
			wa.AppSecret = value
		case "whatsapp-verify-token-env":
			wa.VerifyToken = value
		}
		touched = true
	}

	if !touched {
		return nil
	}
	if err := wa.Validate(); err != nil {
		return usageError{fmt.Sprintf("invalid WhatsApp settings: %v", err)}
	}
	shop.Settings.WhatsApp = wa
	*changed = true
	return nil
}

// applyHandoffWebhook changes the shop's handoff webhook from the flags
// that were given. The signing key comes from an environment variable, so
// it stays out of shell history.
func applyHandoffWebhook(fs *flag.FlagSet, shop *salesagent.Shop, rawURL, secretEnv string, off bool, changed *bool) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if off && (given["handoff-webhook-url"] || given["handoff-webhook-secret-env"]) {
		return usageError{"conflicting flags: --handoff-webhook-disable removes the webhook, so drop --handoff-webhook-url and --handoff-webhook-secret-env"}
	}
	if given["handoff-webhook-disable"] && off {
		shop.Settings.HandoffWebhook = nil
		*changed = true
		return nil
	}
	if !given["handoff-webhook-url"] && !given["handoff-webhook-secret-env"] {
		return nil
	}

	hook := shop.Settings.HandoffWebhook
	if hook == nil {
		hook = &salesagent.HandoffWebhookSettings{}
	}
	if given["handoff-webhook-url"] {
		u, err := console.CheckWebhookURL(strings.TrimSpace(rawURL))
		if err != nil {
			return usageError{"--handoff-webhook-url: " + err.Error()}
		}
		hook.URL = u.String()
	}
	if given["handoff-webhook-secret-env"] {
		secret := os.Getenv(secretEnv)
		if secret == "" {
			return usageError{fmt.Sprintf("invalid --handoff-webhook-secret-env %s: that environment variable is empty or unset", secretEnv)}
		}
		hook.Secret = secret
	}
	if hook.URL == "" {
		return usageError{"missing --handoff-webhook-url: a signing key needs an address to post to"}
	}
	shop.Settings.HandoffWebhook = hook
	*changed = true
	return nil
}

// normalizeOrigin returns origin as scheme://host[:port], the form browsers
// send in the Origin header.
func normalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("invalid --allow-origin %q: give scheme and host only, as in https://store.example.com", origin)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

func validateShop(shop *salesagent.Shop) error {
	if _, err := currency.ParseISO(shop.Currency); err != nil {
		return fmt.Errorf("invalid --currency %q: use a three-letter ISO 4217 code such as USD", shop.Currency)
	}
	if shop.Settings.MaxDiscountPercent < 0 || shop.Settings.MaxDiscountPercent > 100 {
		return fmt.Errorf("invalid --max-discount %g: use a percentage from 0 to 100", shop.Settings.MaxDiscountPercent)
	}
	if l := shop.Settings.LLM; l != nil {
		if l.Provider != "" && l.Provider != "openai" && l.Provider != "azure" {
			return fmt.Errorf("invalid --llm-provider %q: use openai or azure", l.Provider)
		}
		if u, err := url.Parse(l.BaseURL); l.BaseURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return fmt.Errorf("invalid --llm-base-url %q: use the API root as an absolute URL, such as http://127.0.0.1:11434/v1", l.BaseURL)
		}
	}
	if strings.TrimSpace(shop.Name) == "" {
		return fmt.Errorf("invalid --name %q: give the shop a display name", shop.Name)
	}
	if shop.Settings.BaseURL != "" {
		if u, err := url.Parse(shop.Settings.BaseURL); err != nil || u.Host == "" {
			return fmt.Errorf("invalid --base-url %q: use an absolute URL such as https://store.example.com", shop.Settings.BaseURL)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// printShop prints the shop's public settings; secrets are never printed.
// redactURL returns raw with its path, query and user info replaced by
// "…", since receivers such as Slack put their secret in the path.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(set)"
	}
	shown := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		shown += "/…"
	}
	return shown
}

// listShops prints every shop as a table.
func listShops(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shops, err := db.ShopSummaries(ctx)
	if err != nil {
		return err
	}
	if len(shops) == 0 {
		fmt.Fprintln(stdout, "no shops yet: load one with salesagent ingest --shop SLUG PATH")
		return nil
	}

	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SLUG\tNAME\tPRODUCTS\tDOCUMENTS\tCUSTOMERS\tCONVERSATIONS\tWAITING\tCREATED")
	for _, s := range shops {
		// A tab or line break in the name would shift or split the row,
		// so each control character (C0, DEL and C1) becomes a space.
		name := strings.Map(func(r rune) rune {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) {
				return ' '
			}
			return r
		}, s.Name)
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Slug, name, s.Products, s.Documents, s.Customers,
			s.Conversations, s.Waiting, s.CreatedAt.UTC().Format("2006-01-02"))
	}
	return w.Flush()
}

// checkDeleteFlags rejects --confirm without --delete, and --delete with
// a flag that changes a setting.
func checkDeleteFlags(fs *flag.FlagSet, remove bool, confirm string) error {
	if !remove {
		if confirm != "" {
			return usageError{"--confirm is only for --delete: add --delete to delete the shop, or drop --confirm"}
		}
		return nil
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "shop", "delete", "confirm", "database-url", "log-level", "log-format":
		default:
			if err == nil {
				err = usageError{fmt.Sprintf("--delete cannot be combined with --%s: delete the shop, or change it, in separate commands", f.Name)}
			}
		}
	})
	return err
}

// deleteShop deletes shop once confirm repeats its slug. Otherwise it
// returns an error that lists what the shop contains and how to confirm.
func deleteShop(ctx context.Context, db *postgres.DB, shop *salesagent.Shop, confirm string, stdout io.Writer) error {
	contents, err := db.CountShopContents(ctx, shop.ID)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("%s, %s, %s and %s", plural(contents.Products, "product"), plural(contents.Documents, "document"),
		plural(contents.Conversations, "conversation"), plural(contents.Customers, "customer"))
	if confirm != shop.Slug {
		problem := "--delete needs --confirm " + shop.Slug
		if confirm != "" {
			problem = fmt.Sprintf("--confirm %q does not match the shop's slug %q", confirm, shop.Slug)
		}
		return usageError{fmt.Sprintf("%s: shop %s contains %s, and deleting it cannot be undone; run again with --delete --confirm %s",
			problem, shop.Slug, summary, shop.Slug)}
	}

	if err := db.DeleteShop(ctx, shop.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted shop %s with %s. A running salesagent serve rebuilds the search index within %.0f minutes if the deletion left it bloated.\n",
		shop.Slug, summary, retrieval.IndexCheckInterval.Minutes())
	return nil
}

func printShop(w io.Writer, shop *salesagent.Shop) error {
	origins := "none (the widget works only on this server's own pages)"
	if len(shop.AllowedOrigins) > 0 {
		origins = strings.Join(shop.AllowedOrigins, ", ")
	}
	public := map[string]any{
		"tone":                 shop.Settings.Tone,
		"support_hours":        shop.Settings.SupportHours,
		"max_discount_percent": shop.Settings.MaxDiscountPercent,
		"base_url":             shop.Settings.BaseURL,
	}
	if l := shop.Settings.LLM; l != nil {
		public["llm"] = map[string]any{
			"disabled": l.Disabled, "provider": l.Provider, "base_url": l.BaseURL,
			"model": l.Model, "api_key_set": l.APIKey != "",
		}
	}
	if wa := shop.Settings.WhatsApp; wa != nil {
		state := func(secret string) string {
			if secret == "" {
				return "missing"
			}
			return "set"
		}
		whatsapp := map[string]any{
			"phone_number_id": wa.PhoneNumberID, "access_token": state(wa.AccessToken),
			"app_secret": state(wa.AppSecret), "verify_token": state(wa.VerifyToken),
		}
		if wa.Template != nil {
			whatsapp["template"] = wa.Template.Name + " (" + wa.Template.Language + ")"
		}
		public["whatsapp"] = whatsapp
	}
	if hook := shop.Settings.HandoffWebhook; hook != nil {
		public["handoff_webhook"] = map[string]any{"url": redactURL(hook.URL), "signed": hook.Secret != ""}
	}
	settings, err := json.Marshal(public)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "shop:            %s (%s)\nwidget key:      %s\ncurrency:        %s\nallowed origins: %s\nsettings:        %s\n",
		shop.Slug, shop.Name, shop.WidgetKey, shop.Currency, origins, settings)
	return nil
}

// plural writes n and noun, adding "s" to noun unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// quoteList returns words quoted and joined by commas.
func quoteList(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = strconv.Quote(w)
	}
	return strings.Join(quoted, ", ")
}
