package retrieval_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

func TestParseSynonymsRules(t *testing.T) {
	file := "\uFEFF# Northwind search synonyms\n" +
		"\n" +
		"tee, t-shirt\n" +
		"  sneakers ,trainers,  running   shoes  \n" +
		"lockset => door knob, handleset\n" +
		"# one-way, several inputs\n" +
		"hoody, hoodie => hooded sweatshirt\n" +
		`comma\, escaped, other` + "\n" +
		"tee, tee, tees\n"
	rules, err := retrieval.ParseSynonyms(strings.NewReader(file))
	if err != nil {
		t.Fatalf("ParseSynonyms: %v", err)
	}
	want := []salesagent.SynonymRule{
		{Line: 3, Inputs: []string{"tee", "t-shirt"}},
		{Line: 4, Inputs: []string{"sneakers", "trainers", "running shoes"}},
		{Line: 5, Inputs: []string{"lockset"}, Outputs: []string{"door knob", "handleset"}},
		{Line: 7, Inputs: []string{"hoody", "hoodie"}, Outputs: []string{"hooded sweatshirt"}},
		{Line: 8, Inputs: []string{"comma, escaped", "other"}},
		{Line: 9, Inputs: []string{"tee", "tees"}},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("ParseSynonyms rules:\n got %+v\nwant %+v", rules, want)
	}
}

func TestParseSynonymsEmptyFile(t *testing.T) {
	rules, err := retrieval.ParseSynonyms(strings.NewReader("# nothing yet\n\n"))
	if err != nil {
		t.Fatalf("ParseSynonyms: %v", err)
	}
	if len(rules) != 0 {
		t.Errorf("rules of a file of comments = %+v, want none", rules)
	}
}

func TestParseSynonymsBadLines(t *testing.T) {
	cases := []struct {
		line string
		// fix is the part of the message that states the fix.
		fix string
	}{
		{"tee,, t-shirt", "remove the extra comma"},
		{"tee,", "remove the extra comma"},
		{"tee", "list its equivalents after commas"},
		{"tee, tee", "list its equivalents after commas"},
		{"=> door knob", `no term before "=>"`},
		{"lockset =>", `no term after "=>"`},
		{"a => b => c", `more than one "=>"`},
		{`tee, shirt\`, `lone "\"`},
		{"tee, " + strings.Repeat("x", 201), "longer than 200 characters"},
		{"tee, t\xffshirt", "save the file as UTF-8"},
	}
	for _, c := range cases {
		file := "# header\ngood, fine\n" + c.line + "\n"
		rules, err := retrieval.ParseSynonyms(strings.NewReader(file))
		if err == nil {
			t.Errorf("ParseSynonyms(%q) = %+v, want an error", c.line, rules)
			continue
		}
		if rules != nil {
			t.Errorf("ParseSynonyms(%q) returned rules %+v with its error, want none", c.line, rules)
		}
		msg := err.Error()
		if !strings.Contains(msg, "line 3 ") {
			t.Errorf("error for %q does not name line 3: %s", c.line, msg)
		}
		if !strings.Contains(msg, c.fix) {
			t.Errorf("error for %q = %s, want it to contain %q", c.line, msg, c.fix)
		}
		if strings.Contains(msg, "line 2 ") {
			t.Errorf("error for %q names the good line 2: %s", c.line, msg)
		}
		if got := salesagent.ErrorCode(err); got != salesagent.EINVALID {
			t.Errorf("error code for %q = %s, want %s", c.line, got, salesagent.EINVALID)
		}
	}
}

func TestParseSynonymsListsEveryBadLine(t *testing.T) {
	_, err := retrieval.ParseSynonyms(strings.NewReader("tee\nok, fine\nlockset =>\n"))
	if err == nil {
		t.Fatal("ParseSynonyms accepted two bad lines")
	}
	for _, want := range []string{`line 1 "tee"`, `line 3 "lockset =>"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %s does not contain %s", err, want)
		}
	}
}

func FuzzParseSynonyms(f *testing.F) {
	for _, seed := range []string{"tee, t-shirt\n", "a, b => c\n# x\n", `a\,b, c\\` + "\n", "=>,\n", "a => b => c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		rules, err := retrieval.ParseSynonyms(strings.NewReader(file))
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.Line < 1 || len(r.Inputs) == 0 || (len(r.Outputs) == 0 && len(r.Inputs) < 2) {
				t.Fatalf("rule %+v breaks the stored rules' constraints", r)
			}
			for _, term := range append(append([]string{}, r.Inputs...), r.Outputs...) {
				if term == "" || term != strings.TrimSpace(term) {
					t.Fatalf("rule %+v has an empty or padded term %q", r, term)
				}
			}
		}
	})
}
