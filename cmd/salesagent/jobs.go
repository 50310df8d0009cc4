package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// jobsPart is a part of the server that runs River jobs: it registers its
// workers and names the queues they need.
type jobsPart struct {
	addWorkers func(*river.Workers) error
	queues     map[string]river.QueueConfig
	periodic   []*river.PeriodicJob
}

// rescueStuckJobsAfter is how long a job may stay running before River
// retries it, as it must when the process running it was killed. River
// waits for the job kind's own timeout when that is longer, as for
// re-embedding, so only a crashed WhatsApp send (2 minutes) or turn (2.5
// minutes) comes back this soon. River's default, an hour, held a
// crashed process's WhatsApp conversations silent for that long.
const rescueStuckJobsAfter = 3 * time.Minute

// newJobs builds the River client with the re-embedding and vector index
// workers and the workers of parts; a working client also schedules the
// index check. Without work the client only inserts jobs, as the
// commands that enqueue work for a running server need.
func newJobs(db *postgres.DB, m *models, logger *slog.Logger, work bool, parts ...jobsPart) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := retrieval.AddWorkers(workers, db, m.embedders, logger); err != nil {
		return nil, err
	}
	for _, part := range parts {
		if err := part.addWorkers(workers); err != nil {
			return nil, err
		}
	}
	config := &river.Config{Workers: workers, Logger: logger.With("component", "jobs"), RescueStuckJobsAfter: rescueStuckJobsAfter}
	if work {
		config.Queues = map[string]river.QueueConfig{
			river.QueueDefault:     {MaxWorkers: 10},
			retrieval.ReembedQueue: {MaxWorkers: 2},
		}
		config.PeriodicJobs = []*river.PeriodicJob{retrieval.IndexCheckJob()}
		for _, part := range parts {
			for name, queue := range part.queues {
				config.Queues[name] = queue
			}
			config.PeriodicJobs = append(config.PeriodicJobs, part.periodic...)
		}
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), config)
	if err != nil {
		return nil, fmt.Errorf("create job client: %w", err)
	}
	return client, nil
}

// stopJobs stops the client softly, letting running jobs finish until ctx
// ends, then cancels what is left.
func stopJobs(ctx context.Context, client *river.Client[pgx.Tx], logger *slog.Logger) {
	if err := client.Stop(ctx); err == nil {
		return
	}
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := client.StopAndCancel(hardCtx); err != nil {
		logger.Warn("stop jobs", "error", err)
	}
}
