// Package widget embeds the shopper chat widget: widget.js, a dependency-free
// script that a shop adds with one tag, and widget.css, the style sheet the
// script loads into its Shadow DOM. channels/web serves both files.
//
// The tag is:
//
//	<script src="https://HOST/widget.js" data-shop-key="pk_..." async></script>
package widget

import "embed"

// FS holds widget.js and widget.css at its root.
//
//go:embed widget.js widget.css
var FS embed.FS
