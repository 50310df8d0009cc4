package console

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// receiver is a loopback handoff webhook that responds with the statuses
// given, in turn, then 200.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	requests []receivedRequest
}

type receivedRequest struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, receivedRequest{header: req.Header.Clone(), body: body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedRequest(nil), r.requests...)
}

// startNotifier runs a River client with the notifier's worker on db and
// sets db.OnEscalate, as serve does.
func startNotifier(t *testing.T, db *postgres.DB) *river.Client[pgx.Tx] {
	t.Helper()
	n := NewNotifier(NotifierConfig{
		DB: db, PublicURL: "https://chat.example.com", Logger: slog.New(slog.DiscardHandler),
		RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	})
	workers := river.NewWorkers()
	if err := n.AddWorkers(workers); err != nil {
		t.Fatal(err)
	}
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Queues: n.Queues(), Workers: workers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), TestOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.OnEscalate = n.OnEscalate(client)
	t.Cleanup(func() {
		db.OnEscalate = nil
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(ctx)
	})
	return client
}

func setHandoffWebhook(t *testing.T, db *postgres.DB, shop *salesagent.Shop, url, secret string) {
	t.Helper()
	shop.Settings.HandoffWebhook = &salesagent.HandoffWebhookSettings{URL: url, Secret: secret}
	if err := db.UpdateShop(context.Background(), shop); err != nil {
		t.Fatalf("set handoff webhook: %v", err)
	}
}

// waitJob waits until the conversation's notification job reaches a final
// state and returns it.
func waitJob(t *testing.T, client *river.Client[pgx.Tx], convID int64) *rivertype.JobRow {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		res, err := client.JobList(context.Background(), river.NewJobListParams().Kinds(HandoffArgs{}.Kind()).First(100))
		if err != nil {
			t.Fatal(err)
		}
		for _, job := range res.Jobs {
			var args HandoffArgs
			_ = json.Unmarshal(job.EncodedArgs, &args)
			if args.ConversationID == convID && job.FinalizedAt != nil {
				return job
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("notification job of conversation %d did not finish within 15 s", convID)
	return nil
}

func TestHandoffWebhookRetriesUntilDelivered(t *testing.T) {
	f := newFixture(t, Config{})
	hook := newReceiver(t, http.StatusInternalServerError, http.StatusServiceUnavailable)
	setHandoffWebhook(t, f.db, f.shop, hook.srv.URL, "s3cret")
	client := startNotifier(t, f.db)

	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	job := waitJob(t, client, conv.ID)
	if job.State != rivertype.JobStateCompleted || job.Attempt != 3 {
		t.Fatalf("job state %s after %d attempts, want completed after 3", job.State, job.Attempt)
	}

	got := hook.received()
	if len(got) != 3 {
		t.Fatalf("webhook got %d requests, want 3", len(got))
	}
	delivery := got[0].header.Get(DeliveryHeader)
	for i, req := range got {
		if req.header.Get(DeliveryHeader) != delivery {
			t.Errorf("attempt %d has delivery %q, want %q on every attempt", i+1, req.header.Get(DeliveryHeader), delivery)
		}
		want := Sign("s3cret", req.header.Get(TimestampHeader), req.body)
		if req.header.Get(SignatureHeader) != want {
			t.Errorf("attempt %d signature %q, want %q", i+1, req.header.Get(SignatureHeader), want)
		}
		if ts, err := strconv.ParseInt(req.header.Get(TimestampHeader), 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("attempt %d timestamp %q is not the current Unix time", i+1, req.header.Get(TimestampHeader))
		}
	}
	var body handoffPayload
	if err := json.Unmarshal(got[2].body, &body); err != nil {
		t.Fatalf("decode notification: %v", err)
	}
	if body.Type != EventEscalated || body.Conversation.ID != conv.ID || body.Shop.Slug != f.shop.Slug || body.Reason != "shopper asked for a person" {
		t.Errorf("notification %+v, want type %s for conversation %d of shop %s with the escalation's reason", body, EventEscalated, conv.ID, f.shop.Slug)
	}
	if want := "https://chat.example.com/console/?shop=" + f.shop.Slug + "#conversation/" + strconv.FormatInt(conv.ID, 10); body.Conversation.URL != want {
		t.Errorf("conversation URL %q, want %q", body.Conversation.URL, want)
	}
	if body.Text == "" {
		t.Error("notification has no text, which Slack incoming webhooks need")
	}

	// Tampering with the body breaks the signature.
	tampered := append([]byte(nil), got[2].body...)
	tampered[len(tampered)-2] ^= 1
	if Sign("s3cret", got[2].header.Get(TimestampHeader), tampered) == got[2].header.Get(SignatureHeader) {
		t.Error("signature still matches a changed body")
	}
}

func TestHandoffWebhookGivesUpOnClientError(t *testing.T) {
	f := newFixture(t, Config{})
	hook := newReceiver(t, http.StatusGone)
	setHandoffWebhook(t, f.db, f.shop, hook.srv.URL, "")
	client := startNotifier(t, f.db)

	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	job := waitJob(t, client, conv.ID)
	if job.State != rivertype.JobStateCancelled || job.Attempt != 1 {
		t.Errorf("job state %s after %d attempts, want cancelled after 1", job.State, job.Attempt)
	}
	if got := hook.received(); len(got) != 1 || got[0].header.Get(SignatureHeader) != "" {
		t.Errorf("webhook got %d requests (signature %q), want 1 unsigned request", len(got), got[0].header.Get(SignatureHeader))
	}
}

func TestEscalationWithoutWebhookQueuesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	client := startNotifier(t, f.db)
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")

	// Escalating again changes nothing and queues nothing either.
	changed, err := f.db.EscalateConversation(context.Background(), postgres.Escalation{ShopID: f.shop.ID, ConversationID: conv.ID})
	if err != nil || changed {
		t.Fatalf("second escalation: changed %v, error %v; want no change", changed, err)
	}
	res, err := client.JobList(context.Background(), river.NewJobListParams().Kinds(HandoffArgs{}.Kind()).First(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range res.Jobs {
		var args HandoffArgs
		_ = json.Unmarshal(job.EncodedArgs, &args)
		if args.ShopID == f.shop.ID {
			t.Errorf("notification job %d queued for a shop without a handoff webhook", job.ID)
		}
	}
}
