package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/salesagent/salesagent"
)

// faqListKeys are the top-level keys whose array contains the entries of a
// JSON FAQ object, compared without case.
var faqListKeys = []string{"questions", "faqs", "faq"}

// faqEntry is one question and answer of a JSON FAQ. encoding/json matches
// the keys without case, so "Question" and "ANSWER" also fill it.
type faqEntry struct {
	Question *string `json:"question"`
	Answer   *string `json:"answer"`
}

// isFAQListKey reports whether key names the entry array of a JSON FAQ.
func isFAQListKey(key string) bool {
	for _, k := range faqListKeys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// isFAQEntry reports whether a decoded JSON object has both a question and
// an answer key.
func isFAQEntry(entry map[string]json.RawMessage) bool {
	var question, answer bool
	for key := range entry {
		switch strings.ToLower(key) {
		case "question":
			question = true
		case "answer":
			answer = true
		}
	}
	return question && answer
}

// parseFAQJSON returns one FAQ document per {"question", "answer"} object,
// found in the "questions" array of a top-level object (or "faqs" or
// "faq") or in a bare top-level array. Each document is shaped as
// parseFAQMarkdown shapes a heading: the question is the title and the
// answer the body. Objects without a question or an answer are RowErrors.
func parseFAQJSON(name string, data []byte) (*Batch, []RowError, error) {
	lines := newLineIndex(data)
	batch := &Batch{}
	keys := map[string]int{}
	var rowErrs []RowError

	add := func(raw json.RawMessage, offset int, path string) {
		at := origin{File: name, Line: lines.valueLine(offset)}
		doc, err := faqJSONDocument(name, raw, keys)
		if err != nil {
			rowErrs = append(rowErrs, rowError(at, path, "", err,
				`write each entry as {"question": "...", "answer": "..."} with text in both`))
			return
		}
		batch.addDocument(at, doc)
	}

	dec, isArray, err := openTopLevel(data, add,
		errors.New(`expected a JSON object or array of FAQ entries (fix: use {"questions": [{"question": "...", "answer": "..."}]})`))
	if err != nil {
		return nil, nil, err
	}
	if isArray {
		return batch, rowErrs, nil
	}

	found := false
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := keyTok.(string)
		if !found && isFAQListKey(key) {
			found = true
			if err := expectDelim(dec, '['); err != nil {
				return nil, nil, fmt.Errorf("%q: %w", key, err)
			}
			if err := eachArrayItem(dec, key, add); err != nil {
				return nil, nil, err
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
	}
	if !found {
		return nil, nil, fmt.Errorf(`no %q array of FAQ entries (fix: use {"questions": [{"question": "...", "answer": "..."}]} or a bare array of such objects)`, faqListKeys[0])
	}
	return batch, rowErrs, nil
}

// faqJSONDocument converts one FAQ entry. The key is the file stem and the
// question's slug, made unique within the file with keys.
func faqJSONDocument(name string, raw json.RawMessage, keys map[string]int) (salesagent.Document, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return salesagent.Document{}, errors.New("FAQ entry is not a JSON object")
	}
	var entry faqEntry
	if err := json.Unmarshal(raw, &entry); err != nil {
		return salesagent.Document{}, fmt.Errorf("invalid FAQ entry: %w", err)
	}

	// Exports from CMS and help-desk tools often carry HTML, which would
	// otherwise reach shoppers with its tags.
	var question, answer string
	if entry.Question != nil {
		question = htmlInlineText(*entry.Question)
	}
	if entry.Answer != nil {
		answer = textFromMaybeHTML(*entry.Answer)
	}
	switch {
	case question == "":
		return salesagent.Document{}, errors.New(`missing "question"`)
	case answer == "":
		return salesagent.Document{}, fmt.Errorf(`missing "answer" to %q`, question)
	}

	return salesagent.Document{
		Kind:   salesagent.KindFAQ,
		Source: name,
		Key:    uniqueKey(keys, stem(name)+"/"+slugify(question)),
		Title:  question,
		Body:   answer,
	}, nil
}
