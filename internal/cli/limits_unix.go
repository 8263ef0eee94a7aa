//go:build unix

package cli

import "syscall"

// maxConnections leaves a quarter of the descriptor limit (at least 256)
// for everything that is not a client connection.
func maxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1000
	}
	n := int(min(rl.Cur, 1<<20))
	return max(64, min(n*3/4, n-256))
}
