package console

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sync"

	"github.com/salesagent/salesagent/widget"
)

// pageFile is one embedded file of the console page.
type pageFile struct {
	body        []byte
	contentType string
	etag        string
}

var (
	pageOnce  sync.Once
	pageFiles map[string]pageFile
)

func loadPageFiles() map[string]pageFile {
	pageOnce.Do(func() {
		pageFiles = map[string]pageFile{}
		types := map[string]string{
			"console.html": "text/html; charset=utf-8",
			"console.js":   "text/javascript; charset=utf-8",
			"console.css":  "text/css; charset=utf-8",
		}
		for name, contentType := range types {
			body, err := fs.ReadFile(widget.Console, name)
			if err != nil {
				panic(fmt.Sprintf("console file %s missing from the embedded files: %v", name, err))
			}
			sum := sha256.Sum256(body)
			pageFiles[name] = pageFile{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		}
	})
	return pageFiles
}

// handlePage serves the console page and its script and style sheet. The
// page runs only its own script, loads nothing from elsewhere and may not
// be framed, since it holds a signed-in operator's session.
func (c *Console) handlePage(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	if name == "console" || name == "/" {
		name = "console.html"
	}
	file, ok := loadPageFiles()[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", file.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", file.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	if match := r.Header.Get("If-None-Match"); match == file.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(file.body)
}
