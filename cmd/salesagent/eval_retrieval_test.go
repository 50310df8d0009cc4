package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// judgedHead writes the header and the first rows of a shared judged file
// to a file in dir and returns its path.
func judgedHead(t *testing.T, dir, folder, file string, rows int) string {
	t.Helper()
	in, err := os.Open(filepath.Join(shareddata.Path(t, folder), file))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	records, err := readRecords(csv.NewReader(in), rows+1)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}

	path := filepath.Join(dir, file)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(records); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readRecords(r *csv.Reader, n int) ([][]string, error) {
	var records [][]string
	for len(records) < n {
		record, err := r.Read()
		if err != nil {
			return nil, err
		}
		records = append(records, record)
	}
	return records, nil
}

func TestEvalRetrievalSmoke(t *testing.T) {
	dir := t.TempDir()
	crowdflower := judgedHead(t, dir, "crowdflower-search-relevance", "crowdflower_train_subset.csv", 80)
	homedepot := judgedHead(t, dir, "homedepot-search-relevance", "homedepot_train_subset.csv", 80)
	before := benchShops(t)

	stdout, stderr, err := runCommand(t, "eval", "retrieval", "--database-url", pgtest.URL(t), "--json", crowdflower, homedepot)
	if err != nil {
		t.Fatalf("eval retrieval: %v\nstderr:\n%s", err, stderr)
	}
	var r retrievalReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("eval retrieval printed no JSON report: %v\n%s", err, stdout)
	}

	if r.Products < 2 || r.Products > 160 || r.Chunks < r.Products {
		t.Errorf("%d products in %d chunks from 160 judged rows", r.Products, r.Chunks)
	}
	if r.ProductsPerSecond <= 0 {
		t.Errorf("products per second = %v, want the load's throughput", r.ProductsPerSecond)
	}
	if r.HNSW.M < 2 || r.HNSW.EfConstruction < 1 || r.HNSW.EfSearchTimed < 1 {
		t.Errorf("HNSW settings = %+v, want m, ef_construction and ef_search", r.HNSW)
	}
	if len(r.Sets) != 2 {
		t.Fatalf("%d sets, want one per file", len(r.Sets))
	}
	if r.Sets[0].Layout != "crowdflower" || r.Sets[1].Layout != "homedepot" {
		t.Errorf("layouts %q and %q, want crowdflower and homedepot", r.Sets[0].Layout, r.Sets[1].Layout)
	}
	for _, set := range r.Sets {
		if set.Rows != 80 || set.Queries < 1 {
			t.Errorf("%s: %d rows and %d queries, want 80 rows", set.Name, set.Rows, set.Queries)
		}
		var methods []string
		for _, m := range set.Methods {
			methods = append(methods, m.Method)
			if m.NDCG < 0 || m.NDCG > 1 || m.Recall < 0 || m.Recall > 1 {
				t.Errorf("%s %s: nDCG@10 %v and recall@10 %v, want both in [0, 1]", set.Name, m.Method, m.NDCG, m.Recall)
			}
			if m.Latency.Count != set.Queries || m.LatencyAtDepth.Count != set.Queries {
				t.Errorf("%s %s: %d and %d timed searches, want %d", set.Name, m.Method, m.Latency.Count, m.LatencyAtDepth.Count, set.Queries)
			}
		}
		if got := strings.Join(methods, ","); got != "hybrid,full-text,vector,bm25" {
			t.Errorf("%s: methods %s", set.Name, got)
		}
	}
	if after := benchShops(t); after != before {
		t.Errorf("%d benchmark shops after the run, %d before: the throwaway shop was kept", after, before)
	}
}

func TestEvalRetrievalTextReport(t *testing.T) {
	dir := t.TempDir()
	homedepot := judgedHead(t, dir, "homedepot-search-relevance", "homedepot_train_subset.csv", 30)
	stdout, stderr, err := runCommand(t, "eval", "retrieval", "--database-url", pgtest.URL(t), homedepot)
	if err != nil {
		t.Fatalf("eval retrieval: %v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"products/s", "HNSW m=", "ef_construction=", "ef_search=", "nDCG@10", "recall@10", "hybrid nDCG@10 / BM25 nDCG@10"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestEvalRetrievalRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.csv")
	if err := os.WriteFile(unknown, []byte("query,title,grade\nhat,Sun Hat,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"no file":        {[]string{"eval", "retrieval"}, "missing FILE"},
		"unknown layout": {[]string{"eval", "retrieval", "--database-url", pgtest.URL(t), unknown}, "unknown judged file layout with columns query, title, grade"},
		"missing file":   {[]string{"eval", "retrieval", filepath.Join(dir, "none.csv")}, "none.csv"},
		"depth too low":  {[]string{"eval", "retrieval", "--depth", "5", unknown}, "invalid --depth 5"},
		"every zero":     {[]string{"eval", "retrieval", "--every", "0", unknown}, "invalid --every 0"},
		"offset too big": {[]string{"eval", "retrieval", "--every", "2", "--offset", "2", unknown}, "invalid --offset 2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := runCommand(t, c.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}
