//go:build unix

package filter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/policy"
)

// BenchmarkParquetFilter filters content.parquet of a data set made by
// bench/gen (go run ./bench/gen -out DIR), with the directory and
// objections of accounts.jsonl and objections.jsonl, under the default
// policy as of the data set's as_of:
//
//	NOTRAIN_BENCH_DATA=bench/data go test -run '^$' -bench ParquetFilter -benchtime 3x ./internal/filter/
//
// NOTRAIN_BENCH_OUT keeps the last output there (to compare it with
// bench/duckdb_filter.mjs or bench/reference); NOTRAIN_BENCH_CLI_GC=1 runs
// under the GC settings the CLI uses. Besides rows/s and MB/s (of Parquet
// input) it reports CPU seconds per run, which say more than wall time on a
// shared machine, and the live heap the filter adds.
func BenchmarkParquetFilter(b *testing.B) {
	dir := os.Getenv("NOTRAIN_BENCH_DATA")
	if dir == "" {
		dir = "../../bench/data/small"
	}
	in := filepath.Join(dir, "content.parquet")
	st, err := os.Stat(in)
	if err != nil {
		b.Skipf("no data set (%v): set NOTRAIN_BENCH_DATA to a directory made by bench/gen", err)
	}
	engine := pqBenchEngine(b, dir)
	out := filepath.Join(b.TempDir(), "out.parquet")
	if keep := os.Getenv("NOTRAIN_BENCH_OUT"); keep != "" {
		out = keep
	}
	job := Job{Inputs: []string{in}, Output: out, Lineage: out + ".lineage.jsonl", Engine: engine}
	if os.Getenv("NOTRAIN_BENCH_CLI_GC") != "" {
		// What the CLI sets (cli.boundMemory): a tight GC target and a soft
		// limit of 64 MB plus 40 bytes per account.
		defer debug.SetGCPercent(debug.SetGCPercent(25))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(64<<20 + 40*int64(engine.Snapshot().Len())))
	}
	runtime.GC()
	setupRSS := pqPeakRSS()
	heap := pqSampleHeap()
	cpu0 := pqCPUTime()
	b.ResetTimer()
	var res *Result
	for b.Loop() {
		if res, err = Run(context.Background(), job); err != nil {
			b.Fatal(err)
		}
		if err := res.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	el := b.Elapsed().Seconds() / float64(b.N)
	// CPU seconds per run say how much work there is when the machine is
	// shared and wall time says little.
	b.ReportMetric((pqCPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(res.Counts.Read)/el, "rows/s")
	b.ReportMetric(float64(st.Size())/1e6/el, "MB/s")
	b.ReportMetric(float64(res.Counts.Eligible), "kept")
	b.ReportMetric(float64(res.Output.Bytes)/1e6, "outMB")
	// The filter's own memory: the Go heap's peak over what the setup left
	// (the directory read from JSON, the snapshot); the process's peak
	// includes the setup's.
	b.ReportMetric(float64(heap())/1e6, "liveHeap_MB")
	if hwm := pqPeakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/1e6, "peakRSS_MB")
		b.ReportMetric(float64(max(hwm-setupRSS, 0))/1e6, "overSetup_MB")
	}
}

// pqSampleHeap watches the live heap (as of the last collection) until the
// returned function is called, which returns its peak over the level at the
// start: the memory the filter holds, without the garbage that a collector
// tuned for throughput lets pile up to twice that.
func pqSampleHeap() func() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() int64 { metrics.Read(s); return int64(s[0].Value.Uint64()) }
	base, peak := read(), int64(0)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				peak = max(peak, read()-base)
			}
		}
	}()
	return func() int64 { close(stop); <-done; return peak }
}

// pqCPUTime is the user and system time the process has used.
func pqCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pqPeakRSS is the process's high-water mark of resident memory (Linux).
func pqPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// pqBenchEngine reads a bench/gen directory the simple way bench/reference
// does: e-mails matched after lower-casing, objections never withdrawn.
func pqBenchEngine(tb testing.TB, dir string) *eligibility.Engine {
	tb.Helper()
	src := &pqSource{}
	pqEachJSON(tb, filepath.Join(dir, "accounts.jsonl"), func(line []byte) {
		var a struct {
			Product   string `json:"product"`
			AccountID string `json:"account_id"`
			Email     string `json:"email"`
			Birthdate string `json:"birthdate"`
			Group     string `json:"group"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			tb.Fatal(err)
		}
		src.accounts = append(src.accounts, eligibility.AccountRow{Product: a.Product, AccountID: a.AccountID,
			EmailHash: strings.ToLower(a.Email), Birthdate: a.Birthdate, Group: a.Group})
	})
	pqEachJSON(tb, filepath.Join(dir, "objections.jsonl"), func(line []byte) {
		var o struct {
			Email       string          `json:"email"`
			Product     string          `json:"product"`
			AccountID   string          `json:"account_id"`
			EffectiveAt string          `json:"effective_at"`
			Scope       json.RawMessage `json:"scope"`
		}
		if err := json.Unmarshal(line, &o); err != nil {
			tb.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, o.EffectiveAt)
		if err != nil {
			tb.Fatal(err)
		}
		g := eligibility.Grant{EmailHash: strings.ToLower(o.Email), Interval: eligibility.Interval{From: at.UnixMicro()}}
		if o.Email == "" {
			g.Accounts = []eligibility.Key{{Product: o.Product, AccountID: o.AccountID}}
		}
		var products []string
		if json.Unmarshal(o.Scope, &products) == nil {
			g.Products = products
		}
		src.objections = append(src.objections, g)
	})
	var params struct {
		AsOf string `json:"as_of"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "params.json")); err == nil {
		json.Unmarshal(b, &params)
	}
	asOf, err := time.Parse(time.RFC3339, params.AsOf)
	if err != nil {
		tb.Fatalf("params.json: as_of: %v", err)
	}
	pol, err := policy.Default()
	if err != nil {
		tb.Fatal(err)
	}
	idBytes := 0
	for _, a := range src.accounts {
		idBytes += len(a.AccountID)
	}
	snap, err := eligibility.Build(src, len(src.accounts), idBytes)
	if err != nil {
		tb.Fatal(err)
	}
	return eligibility.NewEngine(pol, snap, asOf)
}

func pqEachJSON(tb testing.TB, path string, fn func([]byte)) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}
