package filter

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// pqRecords gives policy rules that read `record` the row being decided as
// a map. Rows are read only when a rule first asks, and then forward in
// windows: decisions go in row order, so a row group is read at most once.
type pqRecords struct {
	schema *parquet.Schema
	rg     parquet.RowGroup
	rows   parquet.Rows
	buf    []parquet.Row
	base   int // buf holds rows base … base+n-1
	n      int
	cur    int // the row being decided
}

func (r *pqRecords) reset(rg parquet.RowGroup) {
	r.close()
	r.rg, r.base, r.n = rg, 0, 0
}

func (r *pqRecords) close() {
	if r.rows != nil {
		r.rows.Close()
		r.rows = nil
	}
}

func (r *pqRecords) record() (map[string]any, error) {
	i := r.cur
	if i < r.base {
		return nil, fmt.Errorf("parquet: row %d asked for after row %d", i, r.base)
	}
	if r.rows == nil {
		r.rows = r.rg.Rows()
		if r.buf == nil {
			r.buf = make([]parquet.Row, 128)
		}
	}
	for i >= r.base+r.n {
		r.base += r.n
		n, err := r.rows.ReadRows(r.buf)
		r.n = n
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("parquet: reading row %d: %w", i, err)
		}
	}
	m := map[string]any{}
	if err := r.schema.Reconstruct(&m, r.buf[i-r.base]); err != nil {
		return nil, fmt.Errorf("parquet: row %d: %w", i, err)
	}
	return m, nil
}
