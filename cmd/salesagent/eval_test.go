package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/agent/eval"
	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

var (
	evalsDir    = filepath.Join("..", "..", "evals")
	demoDataDir = filepath.Join("..", "..", "demo", "shop")
)

// runEvalCommand runs salesagent eval in-process against the package's
// test database, the shipped scenarios and the demo shop, with brains
// choosing the brain (nil for the offline agent).
func runEvalCommand(t *testing.T, brains func(*salesagent.Shop) agent.Brain, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	base := []string{"--database-url", pgtest.URL(t), "--log-level", "warn", "--scenarios", evalsDir, "--demo-data", demoDataDir}
	var out, errOut bytes.Buffer
	err = runEvalWith(context.Background(), append(base, args...), &out, &errOut, brains)
	return out.String(), errOut.String(), err
}

// tauDataAvailable reports whether the τ-bench data that eval loads by
// default is present.
func tauDataAvailable() bool {
	return isDir(defaultTauData())
}

var tableRow = regexp.MustCompile(`(?m)^(\w+)\s+(\d+)/(\d+)\s+(\d+%|n/a)\s+(\d+)$`)

// tableRows parses the pass-rate table: group to passed, run and skipped.
func tableRows(t *testing.T, table string) map[string][3]int {
	t.Helper()
	rows := map[string][3]int{}
	for _, m := range tableRow.FindAllStringSubmatch(table, -1) {
		passed, _ := strconv.Atoi(m[2])
		run, _ := strconv.Atoi(m[3])
		skipped, _ := strconv.Atoi(m[5])
		rows[m[1]] = [3]int{passed, run, skipped}
	}
	return rows
}

func TestEvalOfflineAgent(t *testing.T) {
	stdout, stderr, err := runEvalCommand(t, nil)
	if err != nil {
		t.Fatalf("eval: %v\nstderr:\n%s", err, stderr)
	}
	t.Logf("eval output:\n%s", stdout)

	if !strings.HasPrefix(stdout, "brain: offline (demo") {
		t.Errorf("output does not start by naming the offline brain:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^GROUP\s+PASSED\s+RATE\s+SKIPPED$`).MatchString(stdout) {
		t.Errorf("output has no table header:\n%s", stdout)
	}

	scenarios, err := eval.Load(evalsDir)
	if err != nil {
		t.Fatal(err)
	}
	perGroup := map[string]int{}
	for _, s := range scenarios {
		perGroup[s.Group]++
	}
	rows := tableRows(t, stdout)
	sumPassed, sumRun := 0, 0
	for _, group := range eval.Groups {
		row, ok := rows[group]
		if !ok {
			t.Errorf("table has no row for group %s", group)
			continue
		}
		if row[1]+row[2] != perGroup[group] {
			t.Errorf("group %s: %d run + %d skipped, want its %d scenarios", group, row[1], row[2], perGroup[group])
		}
		if row[0] > row[1] {
			t.Errorf("group %s: %d passed of %d run", group, row[0], row[1])
		}
		sumPassed += row[0]
		sumRun += row[1]
	}
	total, ok := rows["total"]
	if !ok {
		t.Fatalf("table has no total row:\n%s", stdout)
	}
	if total[0] != sumPassed || total[1] != sumRun || total[1]+total[2] != len(scenarios) {
		t.Errorf("total row = %v, want %d/%d with %d scenarios in all", total, sumPassed, sumRun, len(scenarios))
	}
	if total[0] == 0 {
		t.Error("the offline agent passed no scenario")
	}

	if tauDataAvailable() {
		if total[2] != 0 {
			t.Errorf("%d scenarios skipped although the τ-bench data is present:\n%s", total[2], stdout)
		}
		if !strings.Contains(stdout, "brain: offline (demo, tau)") {
			t.Errorf("output does not name the brain of both shops:\n%s", stdout)
		}
	} else if !strings.Contains(stdout, "τ-bench data not found") {
		t.Errorf("τ-bench scenarios skipped without a note:\n%s", stdout)
	}
	if total[0] < total[1] && !strings.Contains(stdout, "failed ") {
		t.Errorf("output lists no failed scenario although %d of %d failed:\n%s", total[1]-total[0], total[1], stdout)
	}
}

func TestEvalJSONReport(t *testing.T) {
	stdout, stderr, err := runEvalCommand(t, nil, "--json", "--group", "save_for_later,human")
	if err != nil {
		t.Fatalf("eval --json: %v\nstderr:\n%s", err, stderr)
	}
	var report eval.Report
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("eval --json printed invalid JSON: %v\n%s", err, stdout)
	}

	if len(report.Groups) != 2 || report.Groups[0].Group != "save_for_later" || report.Groups[1].Group != "human" {
		t.Errorf("groups = %+v, want save_for_later and human only", report.Groups)
	}
	if !slices.Equal(report.Brains["demo"], []string{"offline"}) {
		t.Errorf("brains = %v, want offline alone for demo", report.Brains)
	}
	for _, s := range report.Scenarios {
		if s.Group != "save_for_later" && s.Group != "human" {
			t.Errorf("scenario %s of group %s ran despite --group", s.Name, s.Group)
		}
		if s.Status != eval.StatusSkipped && len(s.Turns) == 0 {
			t.Errorf("scenario %s has no turns in the report", s.Name)
		}
	}
	saved := false
	for _, s := range report.Scenarios {
		if s.Name == "demo-save-cart-two-items" && s.Status != eval.StatusSkipped {
			turn := s.Turns[0]
			saved = len(turn.Tools) > 0 && turn.Tools[0].Name == "save_cart" && strings.Contains(turn.Reply, "/cart/")
		}
	}
	if !saved {
		t.Errorf("report does not show demo-save-cart-two-items saving the cart:\n%s", stdout)
	}
}

// cannedBrain replies with the same text to every message and calls no
// tool, standing in for a plugged-in brain.
type cannedBrain struct {
	name   string
	stream string
	reply  string
}

func (b cannedBrain) Name() string { return b.name }

func (b cannedBrain) Respond(ctx context.Context, _ *agent.Turn, _ *agent.Toolbox, out agent.Emitter) (*agent.Reply, error) {
	if err := out.Emit(ctx, agent.StreamEvent{Type: agent.StreamDelta, Text: b.stream}); err != nil {
		return nil, err
	}
	return &agent.Reply{Text: b.reply, Outcome: agent.OutcomeClarified}, nil
}

func TestEvalPluggedBrain(t *testing.T) {
	brain := cannedBrain{name: "canned", stream: "Sorry, I can't help with that.", reply: "Sorry, I can't help with that."}
	brains := func(*salesagent.Shop) agent.Brain { return brain }

	stdout, stderr, err := runEvalCommand(t, brains, "--group", "human", "--verbose", "--min-pass-rate", "50%")
	if err == nil || !strings.Contains(err.Error(), "below --min-pass-rate 50.0%") {
		t.Fatalf("eval with a brain that never hands off: err = %v, want the pass rate below --min-pass-rate\nstderr:\n%s", err, stderr)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code = %d, want 1", exitCode(err))
	}
	if !strings.HasPrefix(stdout, "brain: canned (demo") {
		t.Errorf("output does not name the plugged-in brain:\n%s", stdout)
	}
	row, ok := tableRows(t, stdout)["human"]
	if !ok || row[1] == 0 {
		t.Fatalf("no human row with scenarios that ran:\n%s", stdout)
	}
	// Every human scenario requires a handoff or a stated fact, and the
	// canned brain gives neither.
	if row[0] != 0 {
		t.Errorf("human row = %v, want none passed", row)
	}
	for _, want := range []string{"FAIL no handoff to a person, but the turn must escalate", "reply: Sorry, I can't help with that."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, stdout)
		}
	}

	// A brain whose stream differs from its stored reply breaks the Brain
	// contract, and eval reports it.
	split := cannedBrain{name: "split", stream: "Sorry.", reply: "Sorry, I can't help with that."}
	stdout, _, err = runEvalCommand(t, func(*salesagent.Shop) agent.Brain { return split }, "--group", "off_topic", "--verbose")
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	if !strings.Contains(stdout, "streamed text differs from the stored reply") {
		t.Errorf("output does not report the stream that differs from the reply:\n%s", stdout)
	}
}

func TestEvalMissingTauData(t *testing.T) {
	// An empty shared data folder leaves the default τ-bench path missing.
	t.Setenv("SALESAGENT_SHARED_DATA", t.TempDir())
	missing := defaultTauData()

	t.Setenv("CI", "false")
	stdout, stderr, err := runEvalCommand(t, nil, "--group", "human")
	if err != nil {
		t.Fatalf("eval without τ-bench data: %v\nstderr:\n%s", err, stderr)
	}
	want := fmt.Sprintf("scenario: τ-bench data not found in %q", missing)
	if !strings.Contains(stdout, want) {
		t.Errorf("output lacks the skip note %q:\n%s", want, stdout)
	}
	if row := tableRows(t, stdout)["human"]; row[2] == 0 {
		t.Errorf("human row = %v, want its τ-bench scenario skipped", row)
	}

	t.Setenv("CI", "true")
	_, _, err = runEvalCommand(t, nil, "--group", "human")
	if err == nil || !strings.Contains(err.Error(), "CI=true requires it") {
		t.Errorf("eval without τ-bench data under CI=true: err = %v, want a failure", err)
	}

	// A folder named on the command line must exist.
	_, _, err = runEvalCommand(t, nil, "--group", "human", "--tau-data", filepath.Join(t.TempDir(), "tau"))
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "invalid --tau-data") {
		t.Errorf("eval --tau-data MISSING: err = %v, want a usage error naming --tau-data", err)
	}
}

func TestEvalRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"--group", "sizes"}, `invalid --group "sizes"`, true},
		{[]string{"--min-pass-rate", "1.5"}, `invalid pass rate "1.5"`, true},
		{[]string{"--turn-timeout", "0s"}, "invalid --turn-timeout", true},
		{[]string{"extra"}, `unexpected argument "extra"`, true},
		{[]string{"--scenarios", filepath.Join(os.TempDir(), "no-such-evals")}, "run eval from the repository root or pass --scenarios PATH", true},
		{[]string{"--demo-data", filepath.Join(os.TempDir(), "no-such-shop")}, "pass --demo-data DIR", false},
	}
	for _, tt := range tests {
		_, _, err := runEvalCommand(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("eval %v: err = %v, want one containing %q", tt.args, err, tt.want)
			continue
		}
		if got, want := exitCode(err) == 2, tt.usage; got != want {
			t.Errorf("eval %v: exit code %d, want a usage error: %t", tt.args, exitCode(err), want)
		}
	}
}

// stockWords describe the stock counts and available flags of the data
// files, which hold numbers and booleans rather than these words.
var stockWords = eval.Fact{"sold out", "out of stock", "not available", "unavailable", "in stock", "1 left", "one left", "only 1", "2 left", "only 2"}

func TestEvalFactsComeFromData(t *testing.T) {
	scenarios, err := eval.Load(evalsDir)
	if err != nil {
		t.Fatal(err)
	}
	corpora := map[string]func(t *testing.T) string{
		eval.ShopDemo: func(t *testing.T) string { return dataText(t, demoDataDir) },
		eval.ShopTau: func(t *testing.T) string {
			dir := shareddata.Path(t, "tau-bench-retail", "v1")
			return dataText(t, filepath.Join(dir, "data")) + "\n" + dataText(t, filepath.Join(dir, "wiki.md"))
		},
	}
	for _, shop := range eval.Shops {
		t.Run(shop, func(t *testing.T) {
			corpus := corpora[shop](t)
			checked := 0
			for _, s := range scenarios {
				if s.Shop != shop {
					continue
				}
				for i, turn := range s.Turns {
					for _, fact := range turn.Expect.MustContain {
						checked++
						if !fact.FoundIn(corpus) && !slices.ContainsFunc(fact, func(w string) bool { return stockWords.FoundIn(w) }) {
							t.Errorf("%s turn %d: no wording of %s is in the %s shop's data files", s.Name, i+1, fact, shop)
						}
					}
				}
			}
			if checked == 0 {
				t.Errorf("no must_contain fact of shop %s was checked", shop)
			}
		})
	}
}

// dataText returns the text of a data file, or of every file in a folder:
// the string and number values of JSON files, and other files as they are.
func dataText(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		files = nil
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}

	var b strings.Builder
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(file) != ".json" {
			b.Write(data)
			b.WriteString("\n")
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", file, err)
		}
		writeJSONValues(&b, v)
	}
	return b.String()
}

// writeJSONValues writes every string and number in v, one per line, and
// the keys of objects, which hold τ-bench ids such as order numbers.
func writeJSONValues(b *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		for key, value := range v {
			b.WriteString(key + "\n")
			writeJSONValues(b, value)
		}
	case []any:
		for _, value := range v {
			writeJSONValues(b, value)
		}
	case string:
		b.WriteString(v + "\n")
	case json.Number:
		b.WriteString(v.String() + "\n")
	}
}
