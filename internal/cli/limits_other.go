//go:build !unix

package cli

// maxConnections is a fixed cap where the descriptor limit cannot be read.
func maxConnections() int { return 4096 }
