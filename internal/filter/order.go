package filter

import (
	"context"
	"fmt"
)

// part is what a worker found in its piece of the input, beside the
// output itself.
type part struct {
	counts  Counts
	authors []int32 // account slots of the kept records, for the lineage
	rejects []byte  // lines for the rejects file
}

// deliver adds a part, taken in input order, to the run's totals.
func (p *part) deliver(rejects *Temp, lin *lineage, progress *progressCounter, res *Result) error {
	if rejects != nil && len(p.rejects) > 0 {
		if _, err := rejects.Write(p.rejects); err != nil {
			return err
		}
	}
	res.Counts.merge(&p.counts)
	lin.addAll(p.authors)
	progress.records.Add(p.counts.Read)
	return nil
}

// inOrder hands what the workers finish, in any order, to fn in sequence
// order (0, 1, 2, …), so the output keeps the input's order. Once done is
// closed, anything still waiting for an earlier piece means a piece was
// lost: an error, never a short output.
func inOrder[T any](ctx context.Context, done <-chan T, seq func(T) int, fn func(T) error) error {
	pending := map[int]T{}
	next := 0
	for t := range done {
		pending[seq(t)] = t
		for {
			t, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := fn(t); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("filter: %d pieces of the input lost between workers and writer", len(pending))
	}
	return nil
}
