package retrieval

import (
	"context"
	"math"
	"sync"
	"unicode/utf8"
)

// Name and size of the built-in embedder. The first migration creates the
// HNSW index for exactly this name and dimension.
const (
	LocalEmbedderName       = "local-hash-384"
	LocalEmbedderDimensions = 384
)

// Weights of the local embedder's feature kinds, chosen by nDCG@10 of
// vector and hybrid search on the CrowdFlower and Home Depot product search
// judgements. Heavier character n-grams helped on both: they match plurals,
// compounds and misspellings that whole words miss.
const (
	weightUnigram  = 1.0
	weightBigram   = 0.5
	weightCompound = 0.7
	// weightCharGrams is the norm that all character n-grams of one word
	// add up to, so long words do not outweigh short ones.
	weightCharGrams = 2.0
	// Character n-grams run from charMin to charMax runes.
	charMin, charMax = 3, 5
)

// Feature kinds, mixed into the hash so that the word "ing" and the
// n-gram "ing" land in different buckets.
const (
	featUnigram byte = 'w'
	featBigram  byte = 'b'
	featChar    byte = 'c'
)

// LocalEmbedder embeds text without a model or network: it hashes lexical
// features into 384 signed buckets (the hashing trick) and L2-normalises the
// result. The features of a text are
//
//   - the Snowball stem of each content word (stop words dropped),
//   - each pair of neighbouring content words, so "rain jacket" differs from
//     "jacket rain" and from either word alone,
//   - the joined form of hyphenated words, so "t-shirt" meets "tshirt",
//   - the character 3- to 5-grams of each word with its boundaries, so
//     "waterproof" is near "waterproofing" and a misspelt "jaket" is near
//     "jacket".
//
// A feature's weight grows with the log of its count (sublinear tf) and
// uses no corpus statistics (no idf), so vectors never need recomputing
// when the catalog grows.
//
// What it can do: match words that share a stem or many letters, tolerate
// typos and plurals, and rank a passage by how much of the query's wording
// it shares. What it cannot do: know meaning. "waterproof jacket" and "rain
// shell jacket" are close only through "jacket"; "sneakers" and "trainers"
// or "cheap" and "budget" share nothing. With 384 buckets, unrelated
// features collide, which adds noise to every similarity, more so for long
// passages. Use a model embedder for synonyms and paraphrases.
//
// A change to the features changes every vector, so it needs a new Name.
// LocalEmbedder is safe for concurrent use.
type LocalEmbedder struct{}

// NewLocalEmbedder returns the built-in embedder.
func NewLocalEmbedder() *LocalEmbedder { return &LocalEmbedder{} }

// Name returns "local-hash-384".
func (*LocalEmbedder) Name() string { return LocalEmbedderName }

// Dimensions returns 384.
func (*LocalEmbedder) Dimensions() int { return LocalEmbedderDimensions }

// Embed returns one unit-length vector per text. An empty text, or one of
// stop words only, gets the zero vector. It returns an error only when ctx
// is cancelled or past its deadline.
func (e *LocalEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, text := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = e.EmbedText(text)
	}
	return out, nil
}

// featureSet accumulates weighted feature counts of one text, keyed by the
// feature's 64-bit hash. Features keep the order they first appeared in, so
// the float sums, and with them the vector, are the same on every run.
type featureSet struct {
	slot    map[uint64]int
	hashes  []uint64
	weights []float32
	// padded is scratch space for addCharGrams.
	padded []rune
}

var featureSets = sync.Pool{New: func() any { return &featureSet{slot: make(map[uint64]int, 256)} }}

func (f *featureSet) add(h uint64, weight float32) {
	if i, ok := f.slot[h]; ok {
		f.weights[i] += weight
		return
	}
	f.slot[h] = len(f.hashes)
	f.hashes = append(f.hashes, h)
	f.weights = append(f.weights, weight)
}

func (f *featureSet) reset() {
	clear(f.slot)
	f.hashes = f.hashes[:0]
	f.weights = f.weights[:0]
}

// EmbedText returns the vector of one text.
func (e *LocalEmbedder) EmbedText(text string) []float32 {
	features := featureSets.Get().(*featureSet)
	defer func() {
		features.reset()
		featureSets.Put(features)
	}()

	words := tokenize(text)
	prevStem := ""
	for i, w := range words {
		if w.joined && i > 0 {
			features.add(hashPair(featUnigram, words[i-1].text, w.text), weightCompound)
		}
		if isStopWord(w.text) {
			continue
		}
		s := stem(w.text)
		features.add(hashString(featUnigram, s), weightUnigram)
		if prevStem != "" {
			features.add(hashPair(featBigram, prevStem, s), weightBigram)
		}
		prevStem = s
		features.addCharGrams(w.text)
	}

	vec := make([]float32, LocalEmbedderDimensions)
	for i, h := range features.hashes {
		value := sublinear(features.weights[i])
		if h>>63 == 1 {
			value = -value
		}
		vec[h%LocalEmbedderDimensions] += value
	}
	normalize(vec)
	return vec
}

// addCharGrams adds the character 3- to 5-grams of "<word>", each weighted
// so that the word's n-grams have norm weightCharGrams.
func (f *featureSet) addCharGrams(w string) {
	if len(w) < 3 {
		return
	}
	padded := append(f.padded[:0], '<')
	for _, r := range w {
		padded = append(padded, r)
	}
	padded = append(padded, '>')
	f.padded = padded

	count := 0
	for n := charMin; n <= charMax; n++ {
		if len(padded) >= n {
			count += len(padded) - n + 1
		}
	}
	weight := float32(weightCharGrams / math.Sqrt(float64(count)))
	for n := charMin; n <= charMax; n++ {
		for i := 0; i+n <= len(padded); i++ {
			f.add(hashRunes(featChar, padded[i:i+n]), weight)
		}
	}
}

// sublinear damps repeated features: a weight up to 1 stays as it is, and
// above that it grows with its logarithm.
func sublinear(w float32) float32 {
	if w <= 1 {
		return w
	}
	return 1 + float32(math.Log(float64(w)))
}

func normalize(vec []float32) {
	var sum float64
	for _, v := range vec {
		sum += float64(v) * float64(v)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range vec {
		vec[i] *= inv
	}
}

// FNV-1a, 64 bit.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func hashString(kind byte, s string) uint64 {
	h := (fnvOffset ^ uint64(kind)) * fnvPrime
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return finalize(h)
}

func hashPair(kind byte, a, b string) uint64 {
	h := (fnvOffset ^ uint64(kind)) * fnvPrime
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * fnvPrime
	}
	h = (h ^ ' ') * fnvPrime
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * fnvPrime
	}
	return finalize(h)
}

func hashRunes(kind byte, rs []rune) uint64 {
	h := (fnvOffset ^ uint64(kind)) * fnvPrime
	var buf [utf8.UTFMax]byte
	for _, r := range rs {
		if r < utf8.RuneSelf {
			h = (h ^ uint64(r)) * fnvPrime
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		for _, c := range buf[:n] {
			h = (h ^ uint64(c)) * fnvPrime
		}
	}
	return finalize(h)
}

// finalize mixes the FNV state so that its low bits, which pick the
// bucket, and its top bit, which picks the sign, depend on every input
// byte. FNV-1a alone leaves the low bits weakly mixed for short inputs.
func finalize(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
