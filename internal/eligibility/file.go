package eligibility

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/klauspost/compress/zstd"
)

// The snapshot file: zstd-compressed, little-endian, ending with the
// SHA-256 of everything before it (uncompressed), so a damaged or edited
// file is refused instead of silently deciding with wrong data.
//
//	"NTELIG01"
//	ledger head: u64 seq, 64 bytes hex hash
//	products: u8 n, then per product u8 length + name (codes are positions)
//	keys: u32 n, then per key: u8 product code, u8 flags, i32 birthdate, u16 id length, id
//	objections, consents: u32 count, then count × (i32 key, i64 from, i64 to), sorted by key
//	item exclusions: u32 count, then count × (u32 length, bytes), sorted
//	stats: 6 × u64
//	SHA-256 (32 bytes)
const fileMagic = "NTELIG02"

// ErrCorrupt is returned for a snapshot file that fails its checks.
var ErrCorrupt = errors.New("eligibility: snapshot file is damaged or not a snapshot file")

// Write encodes s to w.
func (s *Snapshot) Write(w io.Writer) (sha string, err error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(zw, h), 1<<20)
	ew := &errWriter{w: bw}
	ew.bytes([]byte(fileMagic))
	ew.le(uint64(s.Head.Seq))
	ew.bytes(fixedHash(s.Head.Hash))
	ew.le(uint8(len(productNames)))
	for _, p := range productNames {
		ew.le(uint8(len(p)))
		ew.bytes([]byte(p))
	}
	n := s.keys.len()
	ew.le(uint32(n))
	for _, e := range s.keys.off {
		id := s.keys.id(e)
		ew.le(s.keys.product(e))
		ew.le(s.keys.flags(e))
		ew.le(s.keys.birth(e))
		ew.le(uint16(len(id)))
		ew.bytes(id)
	}
	for _, m := range []map[int32][]Interval{s.objections, s.consents} {
		keys := make([]int32, 0, len(m))
		total := 0
		for k, ivs := range m {
			keys = append(keys, k)
			total += len(ivs)
		}
		slices.Sort(keys)
		ew.le(uint32(total))
		for _, k := range keys {
			for _, iv := range m[k] {
				ew.le(k)
				ew.le(iv.From)
				ew.le(iv.To)
			}
		}
	}
	items := make([]string, 0, len(s.items))
	for id := range s.items {
		items = append(items, id)
	}
	sort.Strings(items)
	ew.le(uint32(len(items)))
	for _, id := range items {
		ew.le(uint32(len(id)))
		ew.bytes([]byte(id))
	}
	st := s.Stats
	for _, v := range []int{st.Accounts, st.Objections, st.ObjectionKeys, st.Consents, st.ConsentKeys, st.ItemExclusions} {
		ew.le(uint64(v))
	}
	if ew.err != nil {
		return "", ew.err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	sum := h.Sum(nil)
	if _, err := zw.Write(sum); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum), nil
}

func fixedHash(h string) []byte {
	b := make([]byte, 64)
	copy(b, h)
	return b
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *errWriter) le(v any) {
	if e.err == nil {
		e.err = binary.Write(e.w, binary.LittleEndian, v)
	}
}

// Read decodes a snapshot file and checks its hash. It returns the
// snapshot and the file's content hash.
func Read(r io.Reader) (*Snapshot, string, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, "", err
	}
	defer zr.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(zr, 1<<20)
	rd := &errReader{r: io.TeeReader(br, h)}
	magic := rd.bytes(len(fileMagic))
	if rd.err != nil || string(magic) != fileMagic {
		return nil, "", ErrCorrupt
	}
	s := &Snapshot{objections: map[int32][]Interval{}, consents: map[int32][]Interval{}, items: map[string]struct{}{}}
	s.Head.Seq = int64(rd.u64())
	s.Head.Hash = string(bytes.TrimRight(rd.bytes(64), "\x00"))
	np := int(rd.u8())
	if np != len(productNames) {
		return nil, "", fmt.Errorf("%w: it knows %d products, this notrain %d", ErrCorrupt, np, len(productNames))
	}
	for _, p := range productNames {
		if name := string(rd.bytes(int(rd.u8()))); name != p {
			return nil, "", fmt.Errorf("%w: product codes differ (%q, want %q)", ErrCorrupt, name, p)
		}
	}
	n := int(rd.u32())
	if rd.err != nil || n > 1<<28 {
		return nil, "", ErrCorrupt
	}
	s.keys = newKeyTable(n)
	for i := 0; i < n && rd.err == nil; i++ {
		product, flags := rd.u8(), rd.u8()
		birth := int32(rd.u32())
		id := rd.bytes(int(rd.u16()))
		if product == 0 || int(product) > len(productNames) || len(id) == 0 {
			return nil, "", ErrCorrupt
		}
		s.keys.add(product, id, birth, flags)
	}
	for _, m := range []map[int32][]Interval{s.objections, s.consents} {
		count := int(rd.u32())
		for i := 0; i < count && rd.err == nil; i++ {
			k := int32(rd.u32())
			iv := Interval{From: int64(rd.u64()), To: int64(rd.u64())}
			if k < 0 || int(k) >= n {
				return nil, "", ErrCorrupt
			}
			m[k] = append(m[k], iv)
		}
	}
	items := int(rd.u32())
	for i := 0; i < items && rd.err == nil; i++ {
		s.items[string(rd.bytes(int(rd.u32())))] = struct{}{}
	}
	stats := make([]int, 6)
	for i := range stats {
		stats[i] = int(rd.u64())
	}
	s.Stats = Stats{Accounts: stats[0], Objections: stats[1], ObjectionKeys: stats[2], Consents: stats[3], ConsentKeys: stats[4], ItemExclusions: stats[5]}
	if rd.err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrCorrupt, rd.err)
	}
	want := h.Sum(nil)
	got := make([]byte, 32)
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		return nil, "", fmt.Errorf("%w: content hash does not match", ErrCorrupt)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, "", fmt.Errorf("%w: data after the end", ErrCorrupt)
	}
	if s.Head.Seq < 0 || len(s.Head.Hash) != 64 {
		return nil, "", ErrCorrupt
	}
	s.keys.build()
	return s, hex.EncodeToString(want), nil
}

type errReader struct {
	r   io.Reader
	err error
	buf [8]byte
}

func (e *errReader) bytes(n int) []byte {
	if e.err != nil || n < 0 {
		e.err = errors.Join(e.err, ErrCorrupt)
		return nil
	}
	b := make([]byte, n)
	_, e.err = io.ReadFull(e.r, b)
	return b
}

func (e *errReader) le(v any) {
	if e.err == nil {
		e.err = binary.Read(e.r, binary.LittleEndian, v)
	}
}

func (e *errReader) u8() uint8 {
	if e.err != nil {
		return 0
	}
	_, e.err = io.ReadFull(e.r, e.buf[:1])
	return e.buf[0]
}

func (e *errReader) u16() uint16 {
	if e.err != nil {
		return 0
	}
	_, e.err = io.ReadFull(e.r, e.buf[:2])
	return binary.LittleEndian.Uint16(e.buf[:2])
}

func (e *errReader) u32() uint32 {
	if e.err != nil {
		return 0
	}
	_, e.err = io.ReadFull(e.r, e.buf[:4])
	return binary.LittleEndian.Uint32(e.buf[:4])
}

func (e *errReader) u64() uint64 {
	if e.err != nil {
		return 0
	}
	_, e.err = io.ReadFull(e.r, e.buf[:8])
	return binary.LittleEndian.Uint64(e.buf[:8])
}
