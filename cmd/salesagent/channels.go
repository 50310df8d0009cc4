package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"

	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/channels/web"
	"github.com/salesagent/salesagent/channels/whatsapp"
	"github.com/salesagent/salesagent/console"
	"github.com/salesagent/salesagent/demo"
)

// mountChannels builds the agent and the shopper-facing channels and adds
// their routes to mux.
func (a *App) mountChannels(ctx context.Context, mux *http.ServeMux) error {
	m, err := buildModels(a.cfg.Models, a.logger, a.registry)
	if err != nil {
		return err
	}
	service := agent.NewService(a.db, m.searcher(a.db), a.logger)
	metrics, err := agent.NewMetrics(a.registry)
	if err != nil {
		return fmt.Errorf("register agent metrics: %w", err)
	}
	service.Metrics = metrics
	service.Brains = m.brains

	waClient, err := whatsapp.NewClient(a.cfg.WhatsApp)
	if err != nil {
		return fmt.Errorf("WhatsApp settings: %w", err)
	}
	wa := whatsapp.New(whatsapp.Config{DB: a.db, Turns: service, Client: waClient, Logger: a.logger, PublicURL: a.cfg.PublicURL})
	waJobs := jobsPart{addWorkers: wa.AddWorkers, queues: whatsapp.Queues(0, 0)}
	notifier := console.NewNotifier(console.NotifierConfig{DB: a.db, PublicURL: a.cfg.PublicURL, Logger: a.logger})
	notifyJobs := jobsPart{addWorkers: notifier.AddWorkers, queues: notifier.Queues()}

	webServer := web.New(web.Config{
		DB:        a.db,
		Turns:     service,
		Logger:    a.logger,
		Metrics:   a.registry,
		PublicURL: a.cfg.PublicURL,
	})
	webJobs := jobsPart{addWorkers: webServer.AddWorkers, periodic: []*river.PeriodicJob{web.UnansweredJob()}}

	jobs, err := newJobs(a.db, m, a.logger, !a.cfg.NoJobWorkers, waJobs, notifyJobs, webJobs)
	if err != nil {
		return err
	}
	// Escalations queue their notification in their own transaction.
	a.db.OnEscalate = notifier.OnEscalate(jobs)
	if !a.cfg.NoJobWorkers {
		// Shutdown stops the jobs in order, so the signal context must not.
		if err := jobs.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start jobs: %w", err)
		}
		// Closers run last to first, so jobs stop after the channels.
		a.closers = append(a.closers, func(ctx context.Context) { stopJobs(ctx, jobs, a.logger) })
	}
	wa.Register(mux, jobs)

	webServer.Register(mux)
	a.closers = append(a.closers, func(ctx context.Context) {
		if err := webServer.Close(ctx); err != nil {
			a.logger.Warn("close web channel", "error", err)
		}
	})

	operators := console.New(console.Config{
		DB: a.db, Logger: a.logger, PublicURL: a.cfg.PublicURL, TrustedProxies: a.cfg.TrustedProxies, Drafter: service,
		Deliverers: map[string]console.Deliverer{salesagent.ChannelWhatsApp: wa.OperatorDelivery(jobs)},
		// After a handback, the agent replies to a shopper message that
		// arrived while the operator held the conversation.
		Resumers: map[string]console.Resumer{
			salesagent.ChannelWeb:      webServer,
			salesagent.ChannelWhatsApp: wa.Resumer(jobs),
		},
	})
	operators.Register(mux)
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		operators.Run(listenCtx)
	}()
	a.closers = append(a.closers, func(context.Context) {
		operators.Close()
		stopListening()
		<-listening
	})

	mux.Handle("GET /static/demo/", http.StripPrefix("/static/demo/", http.FileServerFS(demo.Images())))
	mux.HandleFunc("GET /{$}", a.handleRoot)
	return nil
}

// handleRoot sends a visitor to the only shop, or lists the shops.
func (a *App) handleRoot(w http.ResponseWriter, r *http.Request) {
	shops, err := a.db.ListShops(r.Context())
	if err != nil {
		a.logger.ErrorContext(r.Context(), "list shops failed", "error", err)
		http.Error(w, "The shop list is unavailable; try again shortly.", http.StatusServiceUnavailable)
		return
	}
	if len(shops) == 1 {
		http.Redirect(w, r, "/shop/"+shops[0].Slug, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = rootPage.Execute(w, shops)
}

var rootPage = template.Must(template.New("root").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>salesagent</title></head>
<body><main><h1>salesagent</h1>
{{if .}}<p>Shops on this server:</p><ul>{{range .}}<li><a href="/shop/{{.Slug}}">{{.Name}}</a></li>{{end}}</ul>
{{else}}<p>No shops yet. Load one with <code>salesagent ingest --shop SLUG PATH...</code>, for example the demo shop: <code>salesagent ingest --shop demo demo/shop</code>.</p>{{end}}
</main></body></html>
`))
