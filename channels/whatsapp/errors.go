package whatsapp

import (
	"errors"
	"net/http"
)

// Cloud API error codes this channel acts on, from Meta's table of WhatsApp
// Cloud API error codes.
const (
	codeAPIUnknown          = 1
	codeAPIService          = 2
	codeTooManyCalls        = 4
	codeAccessTokenExpired  = 190
	codeReengagementLegacy  = 470
	codeRateLimit           = 80007
	codeThroughput          = 130429
	codeSomethingWentWrong  = 131000
	codeServiceUnavailable  = 131016
	codeUndeliverable       = 131026
	codeReengagement        = 131047
	codeMarketingStopped    = 131050
	codeUnsupportedType     = 131051
	codePairRateLimit       = 131056
	codeTemplateMissing     = 132001
	codeServerUnavailable   = 133004
	codeNotConfigured       = -1
	codeOutsideWindow       = -2
	codeOptedOut            = -3
	codeNoTemplate          = -4
	codeRetriesExhausted    = -5
	codeTemplateUnavailable = -6
)

// outcome is the send worker's next step after a failed send.
type outcome int

const (
	// outcomeRetry retries with back-off, counting an attempt.
	outcomeRetry outcome = iota
	// outcomeThrottle waits and tries again without counting an attempt,
	// because Meta asked the sender to slow down.
	outcomeThrottle
	// outcomeWindowClosed fails the message and sends the shop's template
	// in its place, because the customer service window has closed.
	outcomeWindowClosed
	// outcomeOptedOut fails the message and records that the shopper
	// stopped the shop's marketing messages.
	outcomeOptedOut
	// outcomeFail fails the message for good, as for a bad token or an
	// unsupported message.
	outcomeFail
)

// classify picks the next step after err from Client.Send. Network errors
// and 5xx responses are retried, because Meta did not take the message or
// may not have.
func classify(err error) outcome {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return outcomeRetry
	}
	switch apiErr.Code {
	case codeTooManyCalls, codeRateLimit, codeThroughput, codePairRateLimit:
		return outcomeThrottle
	case codeAPIUnknown, codeAPIService, codeSomethingWentWrong, codeServiceUnavailable, codeServerUnavailable:
		return outcomeRetry
	case codeReengagement, codeReengagementLegacy:
		return outcomeWindowClosed
	case codeMarketingStopped:
		return outcomeOptedOut
	}
	switch {
	case apiErr.HTTPStatus == http.StatusTooManyRequests:
		return outcomeThrottle
	case apiErr.IsTransient, apiErr.HTTPStatus >= 500:
		return outcomeRetry
	}
	return outcomeFail
}

// failureHint explains a failure code to the operator with the next step,
// or returns "" when Meta's own title is explanation enough.
func failureHint(code int) string {
	switch code {
	case codeReengagement, codeReengagementLegacy, codeOutsideWindow:
		return "More than 24 hours have passed since the shopper's last message, so WhatsApp only delivers approved templates until the shopper writes again."
	case codeUndeliverable:
		return "WhatsApp could not deliver the message: the number may not use WhatsApp, or the shopper's app may be outdated."
	case codeUnsupportedType:
		return "WhatsApp does not support this type of message."
	case codeMarketingStopped:
		return "The shopper has stopped marketing messages from this business."
	case codeAccessTokenExpired:
		return "The shop's WhatsApp access token is invalid or expired; set a new one with the salesagent shop command."
	case codeTemplateMissing, codeTemplateUnavailable:
		return "The template does not exist in this language or is not approved; check the shop's WhatsApp template settings."
	case codeNoTemplate:
		return "The shop has no WhatsApp template for replies after the 24-hour window; set one with the salesagent shop command, or wait for the shopper to write again."
	case codeOptedOut:
		return "The shopper sent STOP, so no template is sent until they send START."
	case codeNotConfigured:
		return "The shop's WhatsApp settings are missing or incomplete; set them with the salesagent shop command."
	case codeRetriesExhausted:
		return "Every retry failed; check the Graph API's status and the shop's WhatsApp settings."
	}
	return ""
}
