package console

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/salesagent/salesagent"
)

// fakeResumer records the messages of its calls.
type fakeResumer struct {
	mu    sync.Mutex
	calls []resumeCall
	// err, when set, is returned by every call.
	err error
}

type resumeCall struct {
	shopID int64
	conv   salesagent.Conversation
	msg    salesagent.Message
}

func (f *fakeResumer) Resume(_ context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, resumeCall{shopID: shop.ID, conv: *conv, msg: msg})
	return f.err
}

func (f *fakeResumer) snapshot() []resumeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]resumeCall(nil), f.calls...)
}

// claimedByDana starts a console with cfg, escalates a conversation and
// has the operator Dana log in and claim it.
func claimedByDana(t *testing.T, cfg Config) (*fixture, *salesagent.Conversation, *client) {
	t.Helper()
	f := newFixture(t, cfg)
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "wants to cancel")
	dana := newClient(t, f.srv.URL)
	dana.login(f.shop.Slug, "dana@example.com", testPassword)
	dana.expect(http.StatusOK, "POST", "/console/api/conversations/"+itoa(conv.ID)+"/claim", nil, nil)
	return f, conv, dana
}

// handBackResponse is the decoded body of a successful handback.
type handBackResponse struct {
	Status  string             `json:"status"`
	Message salesagent.Message `json:"message"`
	Resume  string             `json:"resume"`
}

func TestHandBackResumesHeldShopperMessage(t *testing.T) {
	resumer := &fakeResumer{}
	f, conv, dana := claimedByDana(t, Config{Resumers: map[string]Resumer{salesagent.ChannelWeb: resumer}})
	path := "/console/api/conversations/" + itoa(conv.ID)
	held := appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Is anyone there?")
	// An internal note is no reply to the shopper.
	dana.expect(http.StatusCreated, "POST", path+"/note", map[string]string{"text": "checking the order"}, nil)

	var handedBack handBackResponse
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Resume != resumeStarted {
		t.Errorf("handback resume = %q, want %q", handedBack.Resume, resumeStarted)
	}
	calls := resumer.snapshot()
	if len(calls) != 1 {
		t.Fatalf("resumer called %d times, want once", len(calls))
	}
	got := calls[0]
	if got.msg.Seq != held.Seq || got.msg.Body != "Is anyone there?" || got.msg.Role != salesagent.RoleShopper {
		t.Errorf("resumed message %+v, want the shopper's seq %d", got.msg, held.Seq)
	}
	if got.shopID != f.shop.ID || got.conv.ID != conv.ID || got.conv.Channel != salesagent.ChannelWeb {
		t.Errorf("resumed in shop %d, conversation %+v; want shop %d, web conversation %d", got.shopID, got.conv, f.shop.ID, conv.ID)
	}
	if got.conv.Status != salesagent.StatusOpen {
		t.Errorf("resumed conversation status %q, want open", got.conv.Status)
	}

	// A second handback of a conversation no one holds is a conflict and
	// starts no second reply.
	dana.expect(http.StatusConflict, "POST", path+"/handback", nil, nil)
	if n := len(resumer.snapshot()); n != 1 {
		t.Errorf("resumer called %d times after a repeated handback, want once", n)
	}
}

func TestHandBackAfterOperatorReplyResumesNothing(t *testing.T) {
	resumer := &fakeResumer{}
	f, conv, dana := claimedByDana(t, Config{Resumers: map[string]Resumer{salesagent.ChannelWeb: resumer}})
	path := "/console/api/conversations/" + itoa(conv.ID)
	appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Is anyone there?")
	dana.expect(http.StatusCreated, "POST", path+"/reply", map[string]string{"text": "Yes, it is cancelled."}, nil)

	var handedBack handBackResponse
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Resume != resumeNone {
		t.Errorf("handback resume = %q, want %q", handedBack.Resume, resumeNone)
	}
	if n := len(resumer.snapshot()); n != 0 {
		t.Errorf("resumer called %d times after the operator replied, want never", n)
	}

	// Nor when the join notice is the last public message.
	dana.expect(http.StatusOK, "POST", path+"/claim", nil, nil)
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Resume != resumeNone || len(resumer.snapshot()) != 0 {
		t.Errorf("handback after a bare claim: resume %q, %d calls; want none and no call", handedBack.Resume, len(resumer.snapshot()))
	}
}

func TestHandBackSucceedsWhenResumeFails(t *testing.T) {
	resumer := &fakeResumer{err: errors.New("turn queue unavailable")}
	f, conv, dana := claimedByDana(t, Config{Resumers: map[string]Resumer{salesagent.ChannelWeb: resumer}})
	ctx := context.Background()
	path := "/console/api/conversations/" + itoa(conv.ID)
	appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Hello?")
	var handedBack handBackResponse
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Status != salesagent.StatusOpen || handedBack.Message.Body != handBackNotice {
		t.Errorf("handback returned %+v, want status open and the notice", handedBack)
	}
	if handedBack.Resume != resumeFailed {
		t.Errorf("handback resume = %q, want %q", handedBack.Resume, resumeFailed)
	}
	if n := len(resumer.snapshot()); n != 1 {
		t.Errorf("resumer called %d times, want once", n)
	}
	stored, err := f.db.ConversationByID(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != salesagent.StatusOpen || stored.OwnerOperatorID != nil {
		t.Errorf("after a failed resume: status %q, owner %v; want open with no owner", stored.Status, stored.OwnerOperatorID)
	}
}

func TestHandBackWithoutResumerReportsFailure(t *testing.T) {
	f, conv, dana := claimedByDana(t, Config{})
	path := "/console/api/conversations/" + itoa(conv.ID)
	appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Hello?")
	var handedBack handBackResponse
	dana.expect(http.StatusOK, "POST", path+"/handback", nil, &handedBack)
	if handedBack.Resume != resumeFailed {
		t.Errorf("handback on a channel without a resumer: resume %q, want %q", handedBack.Resume, resumeFailed)
	}
}
