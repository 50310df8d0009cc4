package retrieval_test

import (
	"math"
	"strings"
	"testing"

	"github.com/salesagent/salesagent/retrieval"
)

const crowdFlowerSample = `id,query,product_title,product_description,median_relevance,relevance_variance
1,rain jacket,Storm Shell,"Waterproof, taped seams",4,0
2,rain jacket,Cotton Hoodie,,1,0.5
3,wool socks,Merino Crew Socks,Warm socks,4,0
4,wool socks,Storm Shell,"Waterproof, taped seams",2,0
5,sun hat,Wide Brim Hat,,3,0
`

const homeDepotSample = `id,product_uid,product_title,search_term,relevance
9,100002,Deck Coating 1-gal.,deck over,3
10,100003,Deck Brush,deck over,1.67
11,100002,Deck Coating 1-gal.,deck paint,2.33
`

func TestReadJudgedCrowdFlower(t *testing.T) {
	var corpus retrieval.JudgedCorpus
	set, err := corpus.ReadJudged("cf.csv", strings.NewReader(crowdFlowerSample), retrieval.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Layout != retrieval.LayoutCrowdFlower {
		t.Errorf("layout = %q, want %q", set.Layout, retrieval.LayoutCrowdFlower)
	}

	if set.Rows != 5 {
		t.Errorf("rows = %d, want 5", set.Rows)
	}
	if len(corpus.Products) != 4 {
		t.Fatalf("%d products, want 4 (the shell is one product under two queries)", len(corpus.Products))
	}
	if got := strings.Join(set.Queries, "|"); got != "rain jacket|wool socks|sun hat" {
		t.Errorf("queries = %q", got)
	}
	if set.MaxGrade != 3 {
		t.Errorf("max grade = %v, want 3", set.MaxGrade)
	}
	// The shell is product 0: grade 3 for rain jacket, 1 for wool socks.
	if g := set.Grades["rain jacket"][0]; g != 3 {
		t.Errorf("rain jacket grade of the shell = %v, want 3", g)
	}
	if g := set.Grades["wool socks"][0]; g != 1 {
		t.Errorf("wool socks grade of the shell = %v, want 1", g)
	}
	for _, p := range corpus.Products {
		if p.Handle == "" || p.Handle != p.ExternalID {
			t.Errorf("product %q has handle %q and external id %q", p.Title, p.Handle, p.ExternalID)
		}
	}
}

func TestReadJudgedHomeDepotIntoSharedCorpus(t *testing.T) {
	var corpus retrieval.JudgedCorpus
	if _, err := corpus.ReadJudged("cf.csv", strings.NewReader(crowdFlowerSample), retrieval.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	set, err := corpus.ReadJudged("hd.csv", strings.NewReader(homeDepotSample), retrieval.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Layout != retrieval.LayoutHomeDepot {
		t.Errorf("layout = %q, want %q", set.Layout, retrieval.LayoutHomeDepot)
	}
	if len(corpus.Products) != 6 {
		t.Fatalf("%d products, want 4 from CrowdFlower and 2 from Home Depot", len(corpus.Products))
	}
	coating := corpus.Products[4]
	if coating.ExternalID != "hd-100002" || coating.Description != "" {
		t.Errorf("first Home Depot product = %+v", coating)
	}
	if g := set.Grades["deck over"][5]; math.Abs(g-0.67) > 1e-9 {
		t.Errorf("deck over grade of the brush = %v, want 0.67", g)
	}
	if set.MaxGrade != 2 {
		t.Errorf("max grade = %v, want 2", set.MaxGrade)
	}
}

func TestReadJudgedSampling(t *testing.T) {
	var sampled retrieval.JudgedCorpus
	set, err := sampled.ReadJudged("cf.csv", strings.NewReader(crowdFlowerSample), retrieval.ReadOptions{Every: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Queries, "|"); got != "rain jacket|sun hat" {
		t.Errorf("queries of every second = %q", got)
	}
	if len(sampled.Products) != 3 {
		t.Errorf("%d products without AllProducts, want the 3 of the kept queries", len(sampled.Products))
	}

	var other retrieval.JudgedCorpus
	rest, err := other.ReadJudged("cf.csv", strings.NewReader(crowdFlowerSample), retrieval.ReadOptions{Every: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rest.Queries, "|"); got != "wool socks" {
		t.Errorf("queries of every second from offset 1 = %q, want the one offset 0 leaves out", got)
	}

	var all retrieval.JudgedCorpus
	if _, err := all.ReadJudged("cf.csv", strings.NewReader(crowdFlowerSample), retrieval.ReadOptions{Every: 2, AllProducts: true}); err != nil {
		t.Fatal(err)
	}
	if len(all.Products) != 4 {
		t.Errorf("%d products with AllProducts, want 4", len(all.Products))
	}
}

func TestReadJudgedRejects(t *testing.T) {
	cases := map[string]struct{ input, want string }{
		"unknown layout":      {"query,title,grade\nx,y,1\n", "unknown judged file layout"},
		"rating too high":     {"id,product_uid,product_title,search_term,relevance\n1,7,Hammer,hammer,3.5\n", `line 2: invalid relevance "3.5"`},
		"rating not a number": {"id,query,product_title,product_description,median_relevance\n1,hat,Hat,,high\n", `invalid median_relevance "high"`},
		"empty query":         {"id,query,product_title,product_description,median_relevance\n1,,Hat,,2\n", "empty query"},
		"empty uid":           {"id,product_uid,product_title,search_term,relevance\n1,,Hammer,hammer,2\n", "empty product_uid"},
		"no rows":             {"id,product_uid,product_title,search_term,relevance\n", "no judged rows"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var corpus retrieval.JudgedCorpus
			_, err := corpus.ReadJudged("bad.csv", strings.NewReader(c.input), retrieval.ReadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "bad.csv") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestNDCG(t *testing.T) {
	grades := map[int]float64{1: 3, 2: 1, 3: 0}
	perfect, ok := retrieval.NDCG(10, []int{1, 2, 3}, grades)
	if !ok || math.Abs(perfect-1) > 1e-9 {
		t.Errorf("ideal order nDCG = %v, %v; want 1, true", perfect, ok)
	}
	// Unjudged product 9 is condensed away, so it costs nothing.
	condensed, _ := retrieval.NDCG(10, []int{9, 1, 2, 3}, grades)
	if math.Abs(condensed-1) > 1e-9 {
		t.Errorf("nDCG with an unjudged product first = %v, want 1", condensed)
	}
	worse, _ := retrieval.NDCG(10, []int{3, 2, 1}, grades)
	if worse >= perfect || worse <= 0 {
		t.Errorf("reversed order nDCG = %v, want in (0, %v)", worse, perfect)
	}
	if _, ok := retrieval.NDCG(10, []int{3}, map[int]float64{3: 0}); ok {
		t.Error("nDCG with no relevant product reported ok")
	}
}

func TestRecall(t *testing.T) {
	grades := map[int]float64{1: 2, 2: 1, 3: 0.5, 4: 0}
	recall, ok := retrieval.Recall(2, []int{9, 1, 2}, grades, 1)
	if !ok || recall != 0.5 {
		t.Errorf("recall@2 = %v, %v; want 0.5, true (the unjudged product takes a place)", recall, ok)
	}
	recall, _ = retrieval.Recall(10, []int{2, 1}, grades, 1)
	if recall != 1 {
		t.Errorf("recall@10 = %v, want 1", recall)
	}
	if _, ok := retrieval.Recall(10, []int{4}, map[int]float64{4: 0.5}, 1); ok {
		t.Error("recall with no product at the minimum grade reported ok")
	}
}

func TestRankedProducts(t *testing.T) {
	hits := []retrieval.Hit{
		{Source: retrieval.Source{ProductID: 20}},
		{Source: retrieval.Source{DocumentID: 5}},
		{Source: retrieval.Source{ProductID: 10}},
		{Source: retrieval.Source{ProductID: 20}},
	}
	got := retrieval.RankedProducts(hits, map[int64]int{10: 1, 20: 0})
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("ranked = %v, want [0 1]", got)
	}
}
