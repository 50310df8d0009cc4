// Package widget embeds the browser code of salesagent. For shoppers, the
// chat widget: widget.js, a dependency-free script that a shop adds with one
// tag, and widget.css, the style sheet the script loads into its Shadow DOM;
// channels/web serves both. For operators, the console page: console.html,
// console.js and console.css, which the console package serves under
// /console/.
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

// Console holds console.html, console.js and console.css at its root.
//
//go:embed console.html console.js console.css
var Console embed.FS
