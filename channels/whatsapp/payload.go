package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
)

// webhookBody is a webhook notification of the Cloud API:
// {"object":"whatsapp_business_account","entry":[{"changes":[...]}]}.
type webhookBody struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string      `json:"field"`
			Value changeValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// changeValue is the value of a "messages" change. Messages and statuses
// stay raw until each is decoded on its own, so one that does not decode
// does not fail the others.
type changeValue struct {
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WAID string `json:"wa_id"`
	} `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Statuses []json.RawMessage `json:"statuses"`
}

// wireMessage is one inbound message as the Cloud API sends it.
type wireMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
	} `json:"interactive"`
	// Button is a tapped quick-reply button of a template.
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Image    *wireMedia `json:"image"`
	Video    *wireMedia `json:"video"`
	Audio    *wireMedia `json:"audio"`
	Document *wireMedia `json:"document"`
	Sticker  *wireMedia `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
		URL       string  `json:"url"`
	} `json:"location"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Order    *wireOrder    `json:"order"`
	Contacts []wireContact `json:"contacts"`
	Errors   []wireError   `json:"errors"`
}

// wireMedia is an attachment: Meta's media id and its metadata. The file
// itself has to be downloaded with the id, which this channel does not do.
type wireMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	URL      string `json:"url"`
	Voice    bool   `json:"voice"`
	Animated bool   `json:"animated"`
}

// wireContact is a contact card that a shopper shares. Meta's spec lists
// more fields, such as addresses and birthday, which the channel does not
// store.
type wireContact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
	} `json:"name"`
	Org struct {
		Company string `json:"company"`
	} `json:"org"`
	Phones []struct {
		Phone string `json:"phone"`
		WAID  string `json:"wa_id"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
	} `json:"emails"`
}

// wireError is an error in a webhook: on a failed status, or on an inbound
// message of a type WhatsApp does not support.
type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
	Href string `json:"href"`
}

// wireStatus reports a sent message's progress: sent, delivered, read or
// failed.
type wireStatus struct {
	ID                    string      `json:"id"`
	Status                string      `json:"status"`
	Timestamp             string      `json:"timestamp"`
	RecipientID           string      `json:"recipient_id"`
	BizOpaqueCallbackData string      `json:"biz_opaque_callback_data"`
	Errors                []wireError `json:"errors"`
}

// Inbound message kinds, stored in whatsapp_inbound.type.
const (
	kindText        = "text"
	kindInteractive = "interactive"
	kindButton      = "button"
	kindImage       = "image"
	kindVideo       = "video"
	kindAudio       = "audio"
	kindDocument    = "document"
	kindSticker     = "sticker"
	kindLocation    = "location"
	kindReaction    = "reaction"
	kindOrder       = "order"
	kindContacts    = "contacts"
	kindUnsupported = "unsupported"
)

// Card types this channel adds to shopper messages.
const (
	// CardMedia references an attachment by Meta's media id.
	CardMedia = "media"
	// CardLocation is a shared location.
	CardLocation = "location"
	// CardContacts lists the contact cards a shopper shared.
	CardContacts = "contacts"
)

// inbound is an inbound message reduced to what the channel stores.
type inbound struct {
	WAMID  string
	From   string
	Kind   string
	SentAt time.Time
	// Text is the shopper's text: the body, the caption, or the title of
	// a tapped button or list row. It is "" for attachments without
	// a caption.
	Text string
	// Intent is the id of a tapped button or list row.
	Intent string
	// Card references an attachment or a location.
	Card *salesagent.Card
	// Data is kept in whatsapp_inbound.data, as a reaction's emoji.
	Data map[string]any
	// Order is the cart of an order message, or nil.
	Order *order
}

// errUnknownType marks a message of a type the channel does not handle.
type errUnknownType struct{ wamid, kind string }

func (e errUnknownType) Error() string {
	return fmt.Sprintf("whatsapp message type %q is not handled", e.kind)
}

// decodeMessage decodes and reduces one inbound message. now replaces a
// missing or future timestamp.
func decodeMessage(raw json.RawMessage, now time.Time) (inbound, error) {
	var m wireMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return inbound{}, fmt.Errorf("decode whatsapp message: %w", err)
	}
	if m.ID == "" || m.From == "" {
		return inbound{}, fmt.Errorf("whatsapp message of type %q has no id or sender", m.Type)
	}
	in := inbound{WAMID: m.ID, From: m.From, Kind: m.Type, SentAt: parseTimestamp(m.Timestamp, now)}

	switch {
	case m.Type == kindText && m.Text != nil:
		in.Text = m.Text.Body
	case m.Type == kindInteractive && m.Interactive != nil && m.Interactive.ButtonReply != nil:
		in.Text, in.Intent = m.Interactive.ButtonReply.Title, m.Interactive.ButtonReply.ID
	case m.Type == kindInteractive && m.Interactive != nil && m.Interactive.ListReply != nil:
		in.Text, in.Intent = m.Interactive.ListReply.Title, m.Interactive.ListReply.ID
	case m.Type == kindButton && m.Button != nil:
		in.Text, in.Intent = m.Button.Text, m.Button.Payload
	case m.Type == kindLocation && m.Location != nil:
		in.Card = locationCard(m.Location.Latitude, m.Location.Longitude, m.Location.Name, m.Location.Address, m.Location.URL)
	case m.Type == kindReaction && m.Reaction != nil:
		// An empty emoji takes an earlier reaction back.
		in.Data = map[string]any{"emoji": m.Reaction.Emoji, "message_id": m.Reaction.MessageID}
	case m.Type == kindOrder && m.Order != nil:
		in.Order = m.Order.reduce()
		in.Text = in.Order.Note
		in.Data = map[string]any{"order": in.Order}
	case m.Type == kindContacts && len(m.Contacts) > 0:
		in.Card = contactsCard(m.Contacts)
	case m.Type == kindUnsupported || (len(m.Errors) > 0 && m.Type == ""):
		in.Kind = kindUnsupported
		if len(m.Errors) > 0 {
			e := m.Errors[0]
			in.Data = map[string]any{"error_code": e.Code, "error_title": e.Title, "error_details": e.ErrorData.Details}
		}
	default:
		media := m.media()
		if media == nil {
			return inbound{}, errUnknownType{wamid: m.ID, kind: m.Type}
		}
		in.Text = strings.TrimSpace(media.Caption)
		in.Card = mediaCard(m.Type, media)
	}
	in.clean()
	return in, nil
}

// clean removes NUL characters, which PostgreSQL's text and jsonb types
// reject, so that they cannot fail the notification the message came in.
func (in *inbound) clean() {
	strip := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	in.WAMID, in.From, in.Text, in.Intent = strip(in.WAMID), strip(in.From), strip(in.Text), strip(in.Intent)
	if in.Card != nil {
		in.Card.Title, in.Card.Text, in.Card.URL = strip(in.Card.Title), strip(in.Card.Text), strip(in.Card.URL)
		for i := range in.Card.Fields {
			in.Card.Fields[i].Label = strip(in.Card.Fields[i].Label)
			in.Card.Fields[i].Value = strip(in.Card.Fields[i].Value)
		}
	}
	for k, v := range in.Data {
		if s, ok := v.(string); ok {
			in.Data[k] = strip(s)
		}
	}
	if in.Order != nil {
		in.Order.clean(strip)
	}
}

// media returns the attachment of a media message, or nil.
func (m *wireMessage) media() *wireMedia {
	switch m.Type {
	case kindImage:
		return m.Image
	case kindVideo:
		return m.Video
	case kindAudio:
		return m.Audio
	case kindDocument:
		return m.Document
	case kindSticker:
		return m.Sticker
	}
	return nil
}

// mediaCard references an attachment, so an operator can fetch it from the
// Cloud API by its media id.
func mediaCard(kind string, media *wireMedia) *salesagent.Card {
	title := kind
	switch {
	case kind == kindAudio && media.Voice:
		title = "voice message"
	case kind == kindDocument && media.Filename != "":
		title = media.Filename
	}
	card := &salesagent.Card{Type: CardMedia, Title: title, Text: media.Caption, URL: media.URL}
	fields := []salesagent.Field{
		{Label: "type", Value: kind},
		{Label: "media_id", Value: media.ID},
		{Label: "mime_type", Value: media.MimeType},
		{Label: "sha256", Value: media.SHA256},
		{Label: "filename", Value: media.Filename},
	}
	for _, f := range fields {
		if f.Value != "" {
			card.Fields = append(card.Fields, f)
		}
	}
	return card
}

func locationCard(lat, long float64, name, address, link string) *salesagent.Card {
	card := &salesagent.Card{Type: CardLocation, Title: name, Text: address, URL: link, Fields: []salesagent.Field{
		{Label: "latitude", Value: strconv.FormatFloat(lat, 'f', -1, 64)},
		{Label: "longitude", Value: strconv.FormatFloat(long, 'f', -1, 64)},
	}}
	if card.Title == "" {
		card.Title = "Location"
	}
	return card
}

// contactsCard lists shared contact cards, one field per contact with its
// name as the label and its phone numbers, emails and company as the value.
// The card's text joins the names.
func contactsCard(contacts []wireContact) *salesagent.Card {
	card := &salesagent.Card{Type: CardContacts, Title: "contact"}
	if len(contacts) > 1 {
		card.Title = "contacts"
	}
	var names []string
	for i, contact := range contacts {
		name := strings.TrimSpace(firstNonEmpty(contact.Name.FormattedName, strings.TrimSpace(contact.Name.FirstName+" "+contact.Name.LastName)))
		if name == "" {
			name = fmt.Sprintf("contact %d", i+1)
		}
		names = append(names, name)

		var details []string
		for _, phone := range contact.Phones {
			details = append(details, firstNonEmpty(phone.Phone, phone.WAID))
		}
		for _, email := range contact.Emails {
			details = append(details, email.Email)
		}
		details = append(details, contact.Org.Company)
		card.Fields = append(card.Fields, salesagent.Field{Label: name, Value: joinNonEmpty(details, ", ")})
	}
	card.Text = strings.Join(names, ", ")
	return card
}

// joinNonEmpty joins the values that are not blank.
func joinNonEmpty(values []string, sep string) string {
	var kept []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			kept = append(kept, v)
		}
	}
	return strings.Join(kept, sep)
}

// parseTimestamp reads Meta's Unix time in seconds. A missing, bad or
// future value gives now, so a skewed clock cannot stretch the 24-hour
// window.
func parseTimestamp(s string, now time.Time) time.Time {
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil || secs <= 0 {
		return now
	}
	t := time.Unix(secs, 0)
	if t.After(now) {
		return now
	}
	return t
}

// body returns the text stored as the shopper's message: what they wrote
// or tapped, or a bracketed name of what they sent.
func (in inbound) body() string {
	if in.Order != nil {
		return in.Order.body()
	}
	if in.Text != "" {
		return in.Text
	}
	switch in.Kind {
	case kindLocation:
		if in.Card != nil && in.Card.Title != "Location" {
			return "[location: " + in.Card.Title + "]"
		}
		return "[location]"
	case kindUnsupported:
		return "[unsupported message]"
	case kindContacts:
		if in.Card != nil {
			return "[" + in.Card.Title + ": " + in.Card.Text + "]"
		}
	}
	if in.Card != nil {
		return "[" + in.Card.Title + "]"
	}
	return "[" + in.Kind + "]"
}

// needsPerson reports whether the agent cannot read what the shopper sent,
// so the reply offers a person: attachments, locations, shared contacts
// and unsupported messages. Orders have a reply of their own.
func (in inbound) needsPerson() bool {
	return in.Card != nil || in.Kind == kindUnsupported
}
