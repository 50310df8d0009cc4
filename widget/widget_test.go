package widget

import (
	"io/fs"
	"strings"
	"testing"
)

func TestFSHoldsScriptAndStyles(t *testing.T) {
	for name, marker := range map[string]string{
		"widget.js":  "attachShadow",
		"widget.css": ":host",
	} {
		body, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if !strings.Contains(string(body), marker) {
			t.Errorf("%s lacks %q", name, marker)
		}
	}
}
