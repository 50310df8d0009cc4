// Package demo embeds the built-in demo shop, Northwind Outfitters, so that
// the binary can load it and serve its product images without the source
// tree.
package demo

import (
	"embed"
	"io/fs"
)

//go:embed shop
var files embed.FS

// Slug and Name are the demo shop's defaults.
const (
	Slug = "demo"
	Name = "Northwind Outfitters"
)

// Shop returns the demo shop's files: products.json, faq.md, policies.md,
// size-guides.md, synonyms.txt (search synonyms, which ingest skips) and
// images/.
func Shop() fs.FS {
	sub, err := fs.Sub(files, "shop")
	if err != nil {
		panic(err) // the embedded folder always exists
	}
	return sub
}

// Images returns the demo product images served under /static/demo/.
func Images() fs.FS {
	sub, err := fs.Sub(files, "shop/images")
	if err != nil {
		panic(err)
	}
	return sub
}
