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
	// unansweredGrace is added to TurnTimeout for the time a conversation
	// must be quiet before its messages count as unanswered, so that no
	// turn for them can still run in any process.
	unansweredGrace = 30 * time.Second
	// unansweredWindow is how far back the sweep looks. A message whose
	// turns keep failing is tried about once a minute for this long.
	unansweredWindow = 10 * time.Minute
	// unansweredBatch bounds the turns one sweep starts.
	unansweredBatch = 100
)

// ResumeUnanswered has the agent reply to web shopper messages that no turn
// replied to, as when the server process that ran the turns was killed: the
// messages without an agent reply of open or escalated web conversations
// where nothing was stored for TurnTimeout plus 30 seconds, stored up to 10
// minutes before that. A conversation's messages are answered one after
// another, in order. The replies reach the conversation's sockets on any
// process, or the shopper on their next visit. It returns the number of
// turns started.
func (s *Server) ResumeUnanswered(ctx context.Context) (int, error) {
	quietSince := time.Now().Add(-(s.cfg.TurnTimeout + unansweredGrace))
	waiting, err := s.db.UnansweredWebMessages(ctx, quietSince.Add(-unansweredWindow), quietSince, unansweredBatch)
	if err != nil {
		return 0, err
	}
	started := 0
	for len(waiting) > 0 {
		n := 1
		for n < len(waiting) && waiting[n].Message.ConversationID == waiting[0].Message.ConversationID {
			n++
		}
		batch := waiting[:n]
		waiting = waiting[n:]

		shop, err := s.db.ShopByID(ctx, batch[0].ShopID)
		if err != nil {
			return started, fmt.Errorf("load shop %d: %w", batch[0].ShopID, err)
		}
		conv := &salesagent.Conversation{ID: batch[0].Message.ConversationID, ShopID: shop.ID, Channel: salesagent.ChannelWeb}
		msgs := make([]salesagent.Message, len(batch))
		for i, u := range batch {
			msgs[i] = u.Message
		}
		n, err = s.resumeInOrder(shop, conv, msgs)
		started += n
		if err != nil {
			return started, err
		}
		s.log.InfoContext(ctx, "agent replying to messages left without a reply",
			"shop_id", shop.ID, "conversation_id", conv.ID, "first_seq", msgs[0].Seq, "messages", n)
	}
	return started, nil
}

// resumeInOrder runs resumed turns for msgs, a conversation's shopper
// messages in seq order, one after another in one goroutine, so that each
// reply follows the one before. A message whose resumed turn runs already
// in this process is skipped. It returns the number of turns started.
func (s *Server) resumeInOrder(shop *salesagent.Shop, conv *salesagent.Conversation, msgs []salesagent.Message) (int, error) {
	var keys []resumeKey
	var todo []salesagent.Message
	var err error
	for _, msg := range msgs {
		key := resumeKey{conversationID: conv.ID, seq: msg.Seq}
		var started bool
		if started, err = s.startResume(key); err != nil {
			break
		}
		if started {
			keys = append(keys, key)
			todo = append(todo, msg)
		}
	}
	go func() {
		for i, msg := range todo {
			s.runResumed(keys[i], shop, conv, msg)
		}
	}()
	return len(todo), err
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
