package agent

import (
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// foreignFunctionWords are short words common in Spanish, French, German,
// Portuguese and Italian questions and rare in English ones.
var foreignFunctionWords = map[string]bool{
	"el": true, "los": true, "las": true, "una": true, "del": true, "que": true, "qué": true, "por": true, "para": true,
	"cuánto": true, "cuanto": true, "tienen": true, "hay": true, "envío": true, "envio": true, "es": true, "est": true,
	"le": true, "la": true, "les": true, "des": true, "une": true, "pour": true, "quel": true, "quelle": true, "du": true, "et": true, "est-ce": true, "vous": true, "avez": true, "combien": true,
	"der": true, "die": true, "das": true, "und": true, "ist": true, "ich": true, "sie": true, "haben": true, "wie": true,
	"não": true, "você": true, "vocês": true, "quanto": true, "em": true, "il": true, "della": true, "sono": true, "avete": true,
}

// looksEnglish reports whether message is likely English: no Spanish
// question marks, mostly Latin letters, and no more common function words
// of other European languages than English stop words. The offline agent
// reads English only.
func looksEnglish(message string) bool {
	// Spanish opens questions and exclamations with inverted marks.
	if strings.ContainsAny(message, "¿¡") {
		return false
	}
	latin, other := 0, 0
	for _, r := range message {
		switch {
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.IsLetter(r):
			other++
		}
	}
	if other > latin {
		return false
	}
	englishWords, foreign := 0, 0
	for _, w := range words(normalize(message)) {
		if foreignFunctionWords[w] {
			foreign++
		} else if english.IsStopWord(w) {
			englishWords++
		}
	}
	return foreign < 2 || englishWords >= foreign
}
