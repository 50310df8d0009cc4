package retrieval

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
)

// Synonyms file limits.
const (
	// maxSynonymLine is the longest line ParseSynonyms reads, in bytes.
	maxSynonymLine = 64 << 10
	// maxSynonymTerm is the longest term, in characters.
	maxSynonymTerm = 200
	// maxSynonymErrors bounds how many bad lines one error lists.
	maxSynonymErrors = 20
)

// ParseSynonyms reads a synonyms file in the format of Solr's and
// Elasticsearch's synonym filters:
//
//	# a comment line
//	tee, t-shirt                      equivalent terms
//	lockset => door knob, handleset   one-way: lockset also finds the right side
//	sneakers, trainers => running shoes
//
// Terms are separated by commas and may have several words. A backslash
// escapes the next character, so "\," is a comma inside a term. Blank
// lines and lines starting with "#" are skipped. Unlike Solr, "=>" adds
// the right side to what the left side finds and never drops the left
// side's own words.
//
// Every bad line is reported, up to maxSynonymErrors, in one error with
// code invalid that names each line, its text and the fix. Nothing is
// returned then, so a file with a mistake never loads in part.
func ParseSynonyms(r io.Reader) ([]salesagent.SynonymRule, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 4096), maxSynonymLine)
	var rules []salesagent.SynonymRule
	var problems []string
	line := 0
	for scanner.Scan() {
		line++
		text := strings.TrimSpace(scanner.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rule, err := parseSynonymLine(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d %q: %v", line, text, err))
			continue
		}
		rule.Line = line
		rules = append(rules, rule)
	}
	if err := scanner.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, salesagent.Errorf(salesagent.EINVALID, "invalid synonyms file: line %d is longer than %d KiB (split it into several lines)", line+1, maxSynonymLine>>10)
		}
		return nil, fmt.Errorf("read synonyms file: %w", err)
	}
	if len(problems) == 0 {
		return rules, nil
	}

	if len(problems) > maxSynonymErrors {
		problems = append(problems[:maxSynonymErrors], fmt.Sprintf("and %d more bad lines", len(problems)-maxSynonymErrors))
	}
	return nil, salesagent.Errorf(salesagent.EINVALID, "invalid synonyms file:\n  %s", strings.Join(problems, "\n  "))
}

// parseSynonymLine parses one rule. Its errors name the problem and the
// fix but not the line, which the caller adds.
func parseSynonymLine(text string) (salesagent.SynonymRule, error) {
	if !utf8.ValidString(text) {
		return salesagent.SynonymRule{}, errors.New("not valid UTF-8 (save the file as UTF-8)")
	}
	sides, err := splitUnescaped(text, "=>")
	if err != nil {
		return salesagent.SynonymRule{}, err
	}
	switch len(sides) {
	case 1:
		inputs, err := parseSynonymTerms(sides[0])
		if err != nil {
			return salesagent.SynonymRule{}, err
		}
		if len(inputs) < 2 {
			return salesagent.SynonymRule{}, errors.New(`only one term (list its equivalents after commas, as in "tee, t-shirt", or what it should also find after "=>", as in "lockset => door knob")`)
		}
		return salesagent.SynonymRule{Inputs: inputs}, nil
	case 2:
		if strings.TrimSpace(sides[0]) == "" {
			return salesagent.SynonymRule{}, errors.New(`no term before "=>" (write the shopper's words first, as in "lockset => door knob")`)
		}
		if strings.TrimSpace(sides[1]) == "" {
			return salesagent.SynonymRule{}, errors.New(`no term after "=>" (write what the left side should also find, as in "lockset => door knob")`)
		}
		inputs, err := parseSynonymTerms(sides[0])
		if err != nil {
			return salesagent.SynonymRule{}, err
		}
		outputs, err := parseSynonymTerms(sides[1])
		if err != nil {
			return salesagent.SynonymRule{}, err
		}
		return salesagent.SynonymRule{Inputs: inputs, Outputs: outputs}, nil
	}
	return salesagent.SynonymRule{}, errors.New(`more than one "=>" (write one mapping a line, or escape a literal one as "\=>")`)
}

// parseSynonymTerms splits one side of a rule at unescaped commas, removes
// the escapes and extra spaces, and drops repeated terms.
func parseSynonymTerms(side string) ([]string, error) {
	parts, err := splitUnescaped(side, ",")
	if err != nil {
		return nil, err
	}
	var terms []string
	for _, part := range parts {
		term := strings.Join(strings.Fields(unescapeSynonym(part)), " ")
		switch {
		case term == "":
			return nil, errors.New("empty term between commas (remove the extra comma)")
		case utf8.RuneCountInString(term) > maxSynonymTerm:
			return nil, fmt.Errorf("term %.20q... is longer than %d characters (shorten it)", term, maxSynonymTerm)
		}
		if !slices.Contains(terms, term) {
			terms = append(terms, term)
		}
	}
	return terms, nil
}

// splitUnescaped splits s at each sep that no backslash escapes, keeping
// the escapes in the parts. A trailing lone backslash is an error.
func splitUnescaped(s, sep string) ([]string, error) {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			if i == len(s)-1 {
				return nil, errors.New(`line ends with a lone "\" (remove it, or write "\\" for a backslash)`)
			}
			i++
		case strings.HasPrefix(s[i:], sep):
			parts = append(parts, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(parts, s[start:]), nil
}

// unescapeSynonym removes the backslash of each escape in s.
func unescapeSynonym(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
