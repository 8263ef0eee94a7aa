package filter

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/format"
)

// pqWriterOptions configures the output after the first input: its schema,
// its codecs and its key-value metadata, and no page bounds where the input
// had none (writers leave them off long text, where they are useless and
// costly to compute).
func pqWriterOptions(schema *parquet.Schema, meta *format.FileMetaData, spill *pqSpill) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.ColumnPageBuffers(spill),
		parquet.NewSchema(schema.Name(), fastSnappyNode(schema)),
		&parquet.WriterConfig{CreatedBy: "notrain"},
		// Columns keep the codec of the input; this is for files that
		// have no row group to take it from.
		parquet.Compression(&parquet.Zstd),
		parquet.WriteBufferSize(1 << 20),
		// Inputs whose writers dictionary-encode every column (pyarrow
		// does) would otherwise build a dictionary of every text.
		parquet.DictionaryMaxBytes(1 << 20),
	}
	for _, kv := range meta.KeyValueMetadata {
		opts = append(opts, parquet.KeyValueMetadata(kv.Key, kv.Value))
	}
	if len(meta.RowGroups) > 0 {
		for _, c := range meta.RowGroups[0].Columns {
			st := &c.MetaData.Statistics
			if st.MinValue == nil && st.MaxValue == nil && st.Min == nil && st.Max == nil && c.MetaData.NumValues > st.NullCount {
				path := slices.Clone([]string(c.MetaData.PathInSchema))
				opts = append(opts, parquet.SkipPageBounds(path...), parquet.SkipPageStatistics(path...))
			}
		}
	}
	return opts
}

// fastSnappy writes SNAPPY with the fast encoder; the library's codec uses
// the "better" one, which took a sixth of the filter's time for a few
// percent of size.
type fastSnappy struct{ snappy.Codec }

func (fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}

// fastSnappyNode returns the schema tree with every SNAPPY leaf using
// fastSnappy. Everything else, names and order included, is the input's.
func fastSnappyNode(n parquet.Node) parquet.Node {
	if n.Leaf() {
		if c := n.Compression(); c != nil && c.CompressionCodec() == format.Snappy {
			return &pqLeafNode{Node: n, codec: &fastSnappy{}}
		}
		return n
	}
	fields := n.Fields()
	out := make([]parquet.Field, len(fields))
	for i, f := range fields {
		out[i] = &pqField{Node: fastSnappyNode(f), field: f}
	}
	return &pqGroupNode{Node: n, fields: out}
}

type pqLeafNode struct {
	parquet.Node
	codec compress.Codec
}

func (n *pqLeafNode) Compression() compress.Codec { return n.codec }

type pqGroupNode struct {
	parquet.Node
	fields []parquet.Field
}

func (n *pqGroupNode) Fields() []parquet.Field { return n.fields }

type pqField struct {
	parquet.Node
	field parquet.Field
}

func (f *pqField) Name() string                           { return f.field.Name() }
func (f *pqField) Value(base reflect.Value) reflect.Value { return f.field.Value(base) }

// pqSpill holds the compressed pages of the output's row groups in flight
// in files next to the output, removed as soon as they are made, rather
// than on the heap: a row group's column chunks are written one after the
// other, so all but one wait somewhere until the row group is committed,
// and the page cache is a better place for them than the process's memory.
// The files are reused from one row group to the next and closed at the end
// of the run; nothing of them outlives the process.
type pqSpill struct {
	dir  string
	mu   sync.Mutex
	free []*os.File
	all  []*os.File
}

func (s *pqSpill) GetBuffer() io.ReadWriteSeeker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		f := s.free[n-1]
		s.free = s.free[:n-1]
		return f
	}
	f, err := os.CreateTemp(s.dir, ".notrain-pages-*")
	if err != nil {
		return pqFailedBuffer{fmt.Errorf("spill the output's pages: %w", err)}
	}
	os.Remove(f.Name()) // where the system allows it while open; else in close
	s.all = append(s.all, f)
	return f
}

func (s *pqSpill) PutBuffer(b io.ReadWriteSeeker) {
	f, ok := b.(*os.File)
	if !ok {
		return
	}
	if f.Truncate(0) != nil {
		return // not reused; closed at the end
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return
	}
	s.mu.Lock()
	s.free = append(s.free, f)
	s.mu.Unlock()
}

func (s *pqSpill) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.all {
		f.Close()
		os.Remove(f.Name())
	}
	s.all, s.free = nil, nil
}

// pqFailedBuffer fails every write, so that the writer reports the error.
type pqFailedBuffer struct{ err error }

func (b pqFailedBuffer) Read([]byte) (int, error)       { return 0, b.err }
func (b pqFailedBuffer) Write([]byte) (int, error)      { return 0, b.err }
func (b pqFailedBuffer) Seek(int64, int) (int64, error) { return 0, b.err }
