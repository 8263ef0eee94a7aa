package snapshot

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryBudget is the peak resident memory a JSON Lines run is meant to
// stay within: 64 MB plus 40 bytes per account of the snapshot (MB = 10^6
// bytes, as the benchmark reports it).
func memoryBudget(accounts int) int64 { return 64_000_000 + 40*int64(accounts) }

// boundMemory keeps the heap close to what the job needs: the snapshot is
// large and lives for the whole run, while everything else is recycled
// buffers, so the default GC headroom (a second copy of the live heap) is
// wasted memory.
//
// For JSON Lines the Go runtime gets a soft limit: the budget less what is
// resident outside the Go heap (the program's code and tables, some 25 MB
// for a binary that carries SQLite, and the C libraries' memory), since the
// budget is about the whole process and the runtime's limit counts only its
// own memory. A directory with long ids that needs more gets the live heap
// plus room for the chunks in flight instead. Parquet's memory follows the
// input's row-group and page sizes, which the file chooses, so it gets no
// limit, and a tighter GC target instead: its live heap is the snapshot
// plus some 30 MB of pages and buffers, mostly pointer-free, which a
// collection marks quickly. On the benchmark set, 10 instead of 25 took the
// peak from 128 to 119 MB (median of 4 interleaved runs) for 2 % more wall
// time; 5 saved 5 MB more for 15 %.
func boundMemory(accounts int, parquet bool) {
	debug.SetGCPercent(25)
	// Hand back what loading used and no longer needs (decompression
	// windows, ledger rows) before measuring and before the long run starts.
	debug.FreeOSMemory()
	if parquet {
		debug.SetGCPercent(10)
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goResident := int64(ms.Sys - ms.HeapReleased)
	outside := max(0, residentBytes()-goResident)
	const headroom = 24 << 20 // chunks in flight, their output, SQLite's cache at registration
	// What grows outside the Go heap during the run (SQLite's page cache
	// while the snapshot is registered, thread stacks): without it, single
	// runs peaked up to 1.5 MB over the budget.
	const margin = 6 << 20
	debug.SetMemoryLimit(max(memoryBudget(accounts)-outside-margin, int64(ms.HeapAlloc)+headroom))
}

// residentBytes is the process's resident set size, from /proc on Linux;
// 0 where that cannot be read, so nothing is taken off the limit.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
