package retrieval

import (
	"reflect"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestTokenize(t *testing.T) {
	cases := map[string][]word{
		"Men's Rain-Jacket, size M": {{text: "men"}, {text: "rain"}, {text: "jacket", joined: true}, {text: "size"}, {text: "m"}},
		"don’t  CAFÉ crème":         {{text: "dont"}, {text: "cafe"}, {text: "creme"}},
		"8oz 3/4 - sleeve":          {{text: "8oz"}, {text: "3"}, {text: "4", joined: true}, {text: "sleeve"}},
		"":                          {},
	}
	for input, want := range cases {
		got := tokenize(input)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tokenize(%q) = %+v, want %+v", input, got, want)
		}
	}
}

func TestTermsStemsAndDropsStopWords(t *testing.T) {
	got := terms("The running shoes for hiking")
	want := []string{"run", "shoe", "hike"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("terms = %v, want %v", got, want)
	}
}

func TestSplitTextRespectsLimit(t *testing.T) {
	long := strings.Repeat("Sentence number one is here. ", 40) + "\n\n" + strings.Repeat("x", 1900) + "\n\nShort tail."
	pieces := splitText(long, 300)
	if len(pieces) < 3 {
		t.Fatalf("got %d pieces, want several", len(pieces))
	}
	for i, p := range pieces {
		if len(p) > 300 {
			t.Errorf("piece %d has %d bytes, over the 300 limit", i, len(p))
		}
		if strings.TrimSpace(p) == "" {
			t.Errorf("piece %d is blank", i)
		}
	}
	// No text is lost apart from collapsed spaces.
	joined := strings.Join(strings.Fields(strings.Join(pieces, " ")), "")
	if want := strings.Join(strings.Fields(long), ""); joined != want {
		t.Errorf("pieces lost text: %d bytes kept of %d", len(joined), len(want))
	}
	if last := pieces[len(pieces)-1]; !strings.HasSuffix(last, "Short tail.") {
		t.Errorf("last piece = %q, want it to end with the tail", last)
	}
}

func TestSplitTextKeepsParagraphsTogether(t *testing.T) {
	got := splitText("First paragraph.\n\nSecond  paragraph\r\nwith two lines.\n\n\n", 800)
	want := []string{"First paragraph.\n\nSecond paragraph\nwith two lines."}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitText = %q, want %q", got, want)
	}
}

func TestCutBytesKeepsRunesWhole(t *testing.T) {
	for _, piece := range cutBytes(strings.Repeat("é", 10), 5) {
		if !strings.HasPrefix(piece, "é") || len(piece)%2 != 0 {
			t.Errorf("piece %q splits a rune", piece)
		}
	}
}

func TestDocumentChunksSizeGuide(t *testing.T) {
	d := &salesagent.Document{ID: 7, Kind: salesagent.KindSizeGuide, Title: "Jackets size guide", ProductType: "Jackets",
		Body: "Measure your chest.",
		Table: &salesagent.Table{Columns: []string{"Size", "Chest (cm)"}, Rows: [][]string{{"S", "88-94"}, {"M", "95-101"}},
			Notes: "Runs small."}}
	chunks := documentChunks(d)
	if len(chunks) != 1 {
		t.Fatalf("got %d chunks, want 1", len(chunks))
	}
	c := chunks[0]
	want := "Size chart for Jackets: measurements for each size, to choose the right size and fit.\n\nMeasure your chest.\n\n" +
		"Size S: Chest (cm) 88-94\nSize M: Chest (cm) 95-101\n\nNotes: Runs small."
	if c.Content != want {
		t.Errorf("content =\n%s\nwant\n%s", c.Content, want)
	}
	if c.Heading != "Jackets size guide" || c.ProductType != "Jackets" || c.DocumentID != 7 || c.Kind != salesagent.KindSizeGuide {
		t.Errorf("chunk = %+v", c)
	}
}

func TestDocumentChunksLongBodyRepeatsHeading(t *testing.T) {
	body := strings.Repeat("Parcels travel by road and take three days. ", 60)
	d := &salesagent.Document{ID: 3, Kind: salesagent.KindFAQ, Title: "How long does shipping take?", Body: body}
	chunks := documentChunks(d)
	if len(chunks) < 3 {
		t.Fatalf("got %d chunks for a %d-byte body, want at least 3", len(chunks), len(body))
	}
	for i, c := range chunks {
		if c.Heading != d.Title || c.Position != i || len(c.Content) > maxChunkChars {
			t.Errorf("chunk %d: heading %q, position %d, %d bytes", i, c.Heading, c.Position, len(c.Content))
		}
	}
}

func TestProductChunksHashChangesWithText(t *testing.T) {
	p := &salesagent.Product{ID: 1, Title: "Tee", Description: "Soft.", Variants: []salesagent.Variant{
		{SKU: "T1", Price: 1900, Available: true},
	}}
	first := productChunks(p, "USD")
	again := productChunks(p, "USD")
	if first[0].Hash != again[0].Hash {
		t.Error("same product hashed differently")
	}
	if first[0].SKU != "T1" {
		t.Errorf("single-variant product chunk SKU = %q, want T1", first[0].SKU)
	}
	p.Variants[0].Available = false
	if changed := productChunks(p, "USD"); changed[0].Hash == first[0].Hash {
		t.Error("selling out did not change the chunk hash")
	}
	if euro := productChunks(p, "EUR"); !strings.Contains(euro[0].Content, "Price: €19.00.") {
		t.Errorf("EUR price missing:\n%s", euro[0].Content)
	}
}

func TestBM25Ranking(t *testing.T) {
	bm := NewBM25([]string{
		"red cotton shirt",
		"blue denim jeans with a red stitch and a long description that goes on about denim",
		"red red red shirt",
		"garden hose",
	})
	hits := bm.Search("red shirt", 10)
	if len(hits) != 3 {
		t.Fatalf("got %d hits, want 3 (the hose shares no term)", len(hits))
	}
	if hits[0].Index != 2 || hits[1].Index != 0 || hits[2].Index != 1 {
		t.Errorf("order = %+v, want documents 2, 0, 1", hits)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("scores not descending: %+v", hits)
		}
	}
	if got := bm.Search("red shirt", 1); len(got) != 1 || got[0].Index != 2 {
		t.Errorf("k=1 returned %+v", got)
	}
	if got := bm.Search("the of", 10); len(got) != 0 {
		t.Errorf("stop-word query returned %+v", got)
	}
	if bm.Len() != 4 {
		t.Errorf("Len = %d, want 4", bm.Len())
	}
}

func TestFuseRRF(t *testing.T) {
	a := []Hit{{ChunkID: 1}, {ChunkID: 2}, {ChunkID: 3}}
	b := []Hit{{ChunkID: 3}, {ChunkID: 4}}
	got := fuseRRF(3, a, b)
	ids := []int64{got[0].ChunkID, got[1].ChunkID, got[2].ChunkID}
	// 3 is in both lists, so it wins; 1 is first in one list; 2 and 4
	// tie as second in one list each, and the first list's comes first.
	if want := []int64{3, 1, 2}; !reflect.DeepEqual(ids, want) {
		t.Errorf("fused order = %v, want %v", ids, want)
	}
	if want := 1.0/63 + 1.0/61; got[0].Score != want {
		t.Errorf("fused score of chunk 3 = %v, want %v", got[0].Score, want)
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("First paragraph.\n\nSecond one, longer. With sentences! And more?", 20)
	f.Add(strings.Repeat("é", 50), 7)
	f.Add("a\r\n\r\nb", 1)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		if limit < 4 || limit > 2000 {
			return
		}
		pieces := splitText(text, limit)
		for _, p := range pieces {
			if len(p) > limit {
				t.Fatalf("piece of %d bytes over limit %d", len(p), limit)
			}
		}
		got := strings.Join(strings.Fields(strings.Join(pieces, " ")), "")
		if want := strings.Join(strings.Fields(text), ""); got != want {
			t.Fatalf("text changed: got %q, want %q", got, want)
		}
		tokenize(text)
		NewLocalEmbedder().EmbedText(text)
	})
}
