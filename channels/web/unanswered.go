package web

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
)

// Settings of the sweep for unanswered messages.
const (
	// UnansweredSweepInterval is how often the sweep runs.
	UnansweredSweepInterval = time.Minute
	// unansweredGrace is added to TurnTimeout before a message counts as
	// unanswered, so that no turn for it can still run in any process.
	unansweredGrace = 30 * time.Second
	// unansweredWindow is how far back the sweep looks. A message whose
	// turns keep failing is tried about once a minute for this long.
	unansweredWindow = 10 * time.Minute
	// unansweredBatch bounds the turns one sweep starts.
	unansweredBatch = 100
)

// ResumeUnanswered has the agent reply to web shopper messages that no turn
// answered, as when the server process that ran the turn was killed: the
// last message of an open or escalated web conversation, stored between
// TurnTimeout plus 30 seconds and 10 minutes more ago. The replies reach
// the conversation's sockets on any process, or the shopper on their next
// visit. It returns the number of turns started.
func (s *Server) ResumeUnanswered(ctx context.Context) (int, error) {
	newest := time.Now().Add(-(s.cfg.TurnTimeout + unansweredGrace))
	waiting, err := s.db.UnansweredWebMessages(ctx, newest.Add(-unansweredWindow), newest, unansweredBatch)
	if err != nil {
		return 0, err
	}
	started := 0
	for _, u := range waiting {
		shop, err := s.db.ShopByID(ctx, u.ShopID)
		if err != nil {
			return started, fmt.Errorf("load shop %d: %w", u.ShopID, err)
		}
		conv := &salesagent.Conversation{ID: u.Message.ConversationID, ShopID: u.ShopID, Channel: salesagent.ChannelWeb}
		if err := s.Resume(ctx, shop, conv, u.Message); err != nil {
			return started, err
		}
		s.log.InfoContext(ctx, "agent replying to a message that no turn answered",
			"shop_id", u.ShopID, "conversation_id", conv.ID, "seq", u.Message.Seq)
		started++
	}
	return started, nil
}

// UnansweredArgs are the arguments of the periodic job that runs
// ResumeUnanswered.
type UnansweredArgs struct{}

// Kind names the job.
func (UnansweredArgs) Kind() string { return "web_unanswered_sweep" }

type unansweredWorker struct {
	river.WorkerDefaults[UnansweredArgs]
	srv *Server
}

// Work runs one sweep.
func (w *unansweredWorker) Work(ctx context.Context, job *river.Job[UnansweredArgs]) error {
	_, err := w.srv.ResumeUnanswered(ctx)
	return err
}

// AddWorkers registers the web channel's job workers.
func (s *Server) AddWorkers(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &unansweredWorker{srv: s})
}

// UnansweredJob returns the periodic job that sweeps for unanswered
// messages every UnansweredSweepInterval. River runs periodic jobs on one
// process of those sharing a database, so one sweep serves them all.
func UnansweredJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(UnansweredSweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return UnansweredArgs{}, nil },
		&river.PeriodicJobOpts{ID: "web_unanswered_sweep"})
}
