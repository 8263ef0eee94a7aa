package filter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/eligibility"
)

// Job is one filter run.
type Job struct {
	Inputs  []string
	Output  string
	Lineage string // sidecar: records kept per account
	Rejects string // optional: malformed records with file and line
	Engine  *eligibility.Engine
	// Digest hashes the inputs and every output for the manifest
	// (default SHA-256).
	Digest   digest.Algorithm
	WantText bool      // the policy has rules that read text
	Workers  int       // default: every CPU
	Progress io.Writer // nil: no progress line
	// MaxRecord is the longest record read (default 64 MiB); a longer one
	// is counted malformed and skipped without being held in memory.
	MaxRecord int
}

// Result is what a job produced, still under temporary names.
type Result struct {
	Counts   Counts
	Inputs   []FileInfo
	Output   FileInfo
	Lineage  FileInfo
	Accounts int // accounts with at least one kept record
	Rejects  *FileInfo

	temps []*Temp
	lin   *lineage
	snap  *eligibility.Snapshot
}

// Kept yields, per account with at least one kept record, its key and how
// many of its records the job kept, in the snapshot's account order.
func (r *Result) Kept() iter.Seq2[eligibility.Key, uint32] {
	return func(yield func(eligibility.Key, uint32) bool) {
		if r.lin == nil {
			return
		}
		for i, n := range r.lin.counts {
			if n > 0 && !yield(r.snap.Key(int32(i)), n) {
				return
			}
		}
	}
}

// Commit installs every output under its final name.
func (r *Result) Commit() error {
	in, err := r.Install()
	if err != nil {
		return err
	}
	in.Done()
	return nil
}

// Install puts every output, and the extra files given (the manifest), in
// place together: all of them or, on error, none (see Install).
func (r *Result) Install(extra ...*Temp) (*Installation, error) {
	temps := append(r.temps, extra...)
	r.temps = nil
	return Install(temps...)
}

// Abort removes every output.
func (r *Result) Abort() {
	for _, t := range r.temps {
		t.Remove()
	}
	r.temps = nil
}

// Run filters the inputs. On any error it removes what it wrote and
// returns the error: no partial snapshot ever appears.
func Run(ctx context.Context, job Job) (res *Result, err error) {
	if len(job.Inputs) == 0 {
		return nil, errors.New("no input files")
	}
	if job.Workers <= 0 {
		job.Workers = runtime.GOMAXPROCS(0)
	}
	if job.MaxRecord <= 0 {
		job.MaxRecord = defaultMaxRecord
	}
	outFmt, err := FormatOf(job.Output)
	if err != nil {
		return nil, err
	}
	var inFmts []Format
	for _, in := range job.Inputs {
		f, err := FormatOf(in)
		if err != nil {
			return nil, err
		}
		if f.IsJSONL() != outFmt.IsJSONL() {
			return nil, fmt.Errorf("%s is %s but the output %s is %s: the output keeps the input's format", in, f, job.Output, outFmt)
		}
		inFmts = append(inFmts, f)
	}
	res = &Result{}
	defer func() {
		if err != nil {
			res.Abort()
			res = nil
		}
	}()
	if job.Digest == "" {
		job.Digest = digest.Default
	}
	out, err := CreateTemp(job.Output, job.Digest)
	if err != nil {
		return res, err
	}
	res.temps = append(res.temps, out)
	var rejects *Temp
	if job.Rejects != "" {
		if rejects, err = CreateTemp(job.Rejects, job.Digest); err != nil {
			return res, err
		}
		res.temps = append(res.temps, rejects)
	}
	lin := newLineage(job.Engine.Snapshot().Len())
	res.lin, res.snap = lin, job.Engine.Snapshot()
	if outFmt.IsJSONL() {
		err = runJSONL(ctx, job, inFmts, outFmt, out, rejects, lin, res)
	} else {
		err = runParquet(ctx, job, out, rejects, lin, res)
	}
	if err != nil {
		return res, err
	}
	if res.Output, err = out.Close(); err != nil {
		return res, err
	}
	res.Output.Format = outFmt
	if rejects != nil {
		info, err := rejects.Close()
		if err != nil {
			return res, err
		}
		res.Rejects = &info
	}
	if job.Lineage != "" {
		if err := writeLineage(job, lin, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writeLineage writes the sidecar: one line per account the snapshot holds
// records of, with how many.
func writeLineage(job Job, lin *lineage, res *Result) error {
	t, err := CreateTemp(job.Lineage, job.Digest)
	if err != nil {
		return err
	}
	res.temps = append(res.temps, t)
	w := bufio.NewWriterSize(t, 1<<20)
	snap := job.Engine.Snapshot()
	var line []byte
	for i, n := range lin.counts {
		if n == 0 {
			continue
		}
		line = AppendLineageLine(line[:0], snap.Key(int32(i)), uint64(n))
		if _, err := w.Write(line); err != nil {
			return err
		}
		res.Accounts++
	}
	if err := w.Flush(); err != nil {
		return err
	}
	res.Lineage, err = t.Close()
	res.Lineage.Format = JSONL
	return err
}
