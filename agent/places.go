package agent

import (
	"regexp"
	"sort"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// place is a country a shopper names, with the names that shipping
// passages use for it or for the region it belongs to.
type place struct {
	// name is the country's English name, as "Germany".
	name string
	// code is the ISO 3166-1 alpha-2 code, as "DE".
	code string
	// keywords are the words of the names passages use for the country
	// or its region, as "european" for Germany or "kingdom" for Scotland.
	keywords []string
	// passageNames are those names, as "European Union" and "EU".
	passageNames []string
}

// euMembers are the ISO codes of the member states of the European Union
// as of 2025, which shipping passages cover as "the EU".
var euMembers = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
}

// countryAliases are names shoppers use for a country besides its English
// name, in lower case.
var countryAliases = map[string]string{
	"uk": "GB", "u.k.": "GB", "britain": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
	"wales": "GB", "northern ireland": "GB",
	"usa": "US", "u.s.a.": "US", "u.s.": "US", "us": "US", "america": "US", "united states of america": "US",
	"holland": "NL", "czech republic": "CZ", "turkey": "TR",
}

// countryNames maps the lowercase English names and aliases of every
// country to its ISO code. maxPlaceWords is the most words one has.
var (
	countryNames  = map[string]string{}
	maxPlaceWords = 1
)

func init() {
	names := display.English.Regions()
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			region, err := language.ParseRegion(code)
			if err != nil || !region.IsCountry() || region.String() != code {
				continue
			}
			if name := names.Name(region); name != "" {
				addCountryName(strings.ToLower(name), code)
			}
		}
	}
	for alias, code := range countryAliases {
		addCountryName(alias, code)
	}
}

func addCountryName(name, code string) {
	countryNames[name] = code
	maxPlaceWords = max(maxPlaceWords, len(placeWords(name)))
}

// placeWord splits text into the words of place names, keeping the dots
// of "u.k." inside a word.
var placeWord = regexp.MustCompile(`[\p{L}\d]+(?:\.[\p{L}\d]+)*\.?`)

func placeWords(text string) []string {
	return placeWord.FindAllString(normalize(text), -1)
}

// placesIn returns the countries that text names, in order, each once. A
// longer name wins over a shorter one inside it, so "Papua New Guinea" is
// not read as Guinea.
func placesIn(text string) []place {
	tokens := placeWords(text)
	var out []place
	seen := map[string]bool{}
	for i := 0; i < len(tokens); {
		matched := 0
		for n := min(maxPlaceWords, len(tokens)-i); n >= 1; n-- {
			code, ok := countryNames[strings.Join(tokens[i:i+n], " ")]
			if !ok {
				// "U.K." at the end of a sentence loses its last dot.
				code, ok = countryNames[strings.Join(tokens[i:i+n], " ")+"."]
			}
			if !ok {
				continue
			}
			// "us" is a pronoun far more often than a country, except
			// after "the", as in "within the US".
			if n == 1 && tokens[i] == "us" && (i == 0 || tokens[i-1] != "the") {
				break
			}
			if !seen[code] {
				seen[code] = true
				out = append(out, newPlace(code))
			}
			matched = n
			break
		}
		i += max(1, matched)
	}
	return out
}

// newPlace returns the place of an ISO code with the names passages use.
func newPlace(code string) place {
	region := language.MustParseRegion(code)
	name := display.English.Regions().Name(region)
	p := place{name: name, code: code}
	switch {
	case code == "GB":
		p.passageNames = []string{"United Kingdom", "UK", "Great Britain", "Britain"}
		p.keywords = []string{"kingdom", "uk", "britain"}
	case euMembers[code]:
		p.passageNames = []string{name, "European Union", "EU"}
		p.keywords = append(contentWordsOf(name), "european")
	case code == "US":
		p.passageNames = []string{"United States", "USA", "US"}
		p.keywords = []string{"states", "usa"}
	default:
		p.passageNames = []string{name}
		p.keywords = contentWordsOf(name)
	}
	return p
}

// contentWordsOf returns the lowercase words of a name that carry meaning.
func contentWordsOf(name string) []string {
	var out []string
	for _, w := range words(normalize(name)) {
		if len(w) > 1 && !genericWords[stem(w)] {
			out = append(out, w)
		}
	}
	return out
}

// namedIn reports whether text uses one of the place's passage names as
// whole words.
func (p place) namedIn(text string) bool {
	tokens := " " + strings.Join(placeWords(text), " ") + " "
	for _, name := range p.passageNames {
		if strings.Contains(tokens, " "+strings.Join(placeWords(name), " ")+" ") {
			return true
		}
	}
	return false
}

// foreignPlaces returns the places of text outside the United States.
func foreignPlaces(text string) []place {
	var out []place
	for _, p := range placesIn(text) {
		if p.code != "US" {
			out = append(out, p)
		}
	}
	return out
}

// retrievalText returns the message with the words that the passages
// answering it are likely to use: for a shipping question, the passage
// names of the places it names, and for a contact question, the words of a
// contact passage. The retriever then finds a rate table row for
// "Germany" under "European Union", or the passage listing where the shop
// ships for "Australia".
func retrievalText(message string, needs []Need) string {
	var extra []string
	if containsNeed(needs, NeedShipping) {
		for _, p := range foreignPlaces(message) {
			extra = append(extra, p.passageNames...)
			extra = append(extra, "international shipping countries")
		}
	}
	if asksContactDetails(message) {
		extra = append(extra, contactTopic)
	}
	if len(extra) == 0 {
		return message
	}
	sort.Strings(extra)
	return message + " " + strings.Join(compactStrings(extra), " ")
}

func containsNeed(needs []Need, need Need) bool {
	for _, n := range needs {
		if n == need {
			return true
		}
	}
	return false
}

// compactStrings drops repeats from a sorted list.
func compactStrings(list []string) []string {
	var out []string
	for i, s := range list {
		if i == 0 || s != list[i-1] {
			out = append(out, s)
		}
	}
	return out
}
