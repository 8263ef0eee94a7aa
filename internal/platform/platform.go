// Package platform names the products, content kinds and visibilities of
// the platform notrain serves (DESIGN.md, "Contracts"). Every part of
// notrain takes these lists from here.
package platform

import "slices"

// Products in the order they are shown to people.
var products = []string{"facebook", "instagram", "threads", "whatsapp", "messenger"}

// Kinds of content.
var kinds = []string{"post", "comment", "photo", "video", "story", "reel", "profile", "like", "review", "ai_chat", "message"}

// Visibilities of content.
var visibilities = []string{"public", "friends", "private"}

// Products returns the known products.
func Products() []string { return slices.Clone(products) }

// Kinds returns the known content kinds.
func Kinds() []string { return slices.Clone(kinds) }

// Visibilities returns the known visibilities.
func Visibilities() []string { return slices.Clone(visibilities) }

// IsProduct reports whether p is a known product.
func IsProduct(p string) bool { return slices.Contains(products, p) }

// IsKind reports whether k is a known content kind.
func IsKind(k string) bool { return slices.Contains(kinds, k) }

// IsVisibility reports whether v is a known visibility.
func IsVisibility(v string) bool { return slices.Contains(visibilities, v) }
