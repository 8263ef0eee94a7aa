package eligibility

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
//	keys: u32 n, u64 total id bytes, then per key: u8 product code, u8 flags, i32 birthdate, u16 id length, id
//	objections, consents: u32 count, then count × (i32 key, i64 from, i64 to), sorted by key
//	item exclusions: u32 count, then count × (u32 length, bytes), sorted
//	stats: 6 × u64
//	SHA-256 (32 bytes)
const fileMagic = "NTELIG03"

// ErrCorrupt is returned for a snapshot file that fails its checks.
var ErrCorrupt = errors.New("eligibility: snapshot file is damaged or not a snapshot file")

// Write encodes s to w.
func (s *Snapshot) Write(w io.Writer) (sha string, err error) {
	// A small window: the file compresses nearly as well, and reading it
	// back needs a megabyte of history instead of eight.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(1<<20))
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
	ew.le(uint64(len(s.keys.arena) - n*entryHeader)) // id bytes, to size the arena on reading
	var rec []byte
	for _, e := range s.keys.off {
		id := s.keys.id(e)
		rec = append(rec[:0], s.keys.product(e), s.keys.flags(e))
		rec = binary.LittleEndian.AppendUint32(rec, uint32(s.keys.birth(e)))
		rec = binary.LittleEndian.AppendUint16(rec, uint16(len(id)))
		ew.bytes(append(rec, id...))
	}
	for _, consent := range []bool{false, true} {
		total := 0
		for _, g := range s.grants {
			if g.consent == consent {
				total++
			}
		}
		ew.le(uint32(total))
		for idx, e := range s.keys.off {
			for _, iv := range s.intervals(s.keys.grants(e), consent) {
				rec = binary.LittleEndian.AppendUint32(rec[:0], uint32(idx))
				rec = binary.LittleEndian.AppendUint64(rec, uint64(iv.From))
				ew.bytes(binary.LittleEndian.AppendUint64(rec, uint64(iv.To)))
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
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return nil, "", err
	}
	defer zr.Close()
	rd := &peekReader{br: bufio.NewReaderSize(zr, 1<<20), h: sha256.New()}
	if string(rd.take(len(fileMagic))) != fileMagic {
		return nil, "", ErrCorrupt
	}
	s := &Snapshot{items: map[string]struct{}{}}
	s.Head.Seq = int64(binary.LittleEndian.Uint64(rd.take(8)))
	s.Head.Hash = string(bytes.TrimRight(rd.take(64), "\x00"))
	np := int(rd.u8())
	if rd.err == nil && np != len(productNames) {
		return nil, "", fmt.Errorf("%w: it knows %d products, this notrain %d", ErrCorrupt, np, len(productNames))
	}
	for _, p := range productNames {
		if name := string(rd.take(int(rd.u8()))); rd.err == nil && name != p {
			return nil, "", fmt.Errorf("%w: product codes differ (%q, want %q)", ErrCorrupt, name, p)
		}
	}
	n := int(rd.u32())
	idBytes := binary.LittleEndian.Uint64(rd.take(8))
	if rd.err != nil || n > 1<<28 || idBytes > 1<<34 {
		return nil, "", ErrCorrupt
	}
	s.keys = newKeyTable(n, int(idBytes))
	for i := 0; i < n && rd.err == nil; i++ {
		hdr := rd.take(8)
		if rd.err != nil {
			break
		}
		product, flags := hdr[0], hdr[1]
		birth := int32(binary.LittleEndian.Uint32(hdr[2:]))
		id := rd.take(int(binary.LittleEndian.Uint16(hdr[6:])))
		if product == 0 || int(product) > len(productNames) || len(id) == 0 {
			return nil, "", ErrCorrupt
		}
		s.keys.add(product, id, birth, flags&^(flagObjection|flagConsent))
	}
	var pending []keyedGrant
	for _, consent := range []bool{false, true} {
		count := int(rd.u32())
		// Room for them at once (a corrupt count cannot ask for more
		// than a million ahead of the records that must follow).
		if rd.err == nil {
			pending = slices.Grow(pending, min(count, 1<<20))
		}
		for i := 0; i < count && rd.err == nil; i++ {
			b := rd.take(20)
			if rd.err != nil {
				break
			}
			k := int32(binary.LittleEndian.Uint32(b))
			iv := Interval{From: int64(binary.LittleEndian.Uint64(b[4:])), To: int64(binary.LittleEndian.Uint64(b[12:]))}
			if k < 0 || int(k) >= n {
				return nil, "", ErrCorrupt
			}
			pending = append(pending, keyedGrant{idx: k, grant: grant{Interval: iv, consent: consent}})
			flag := uint8(flagObjection)
			if consent {
				flag = flagConsent
			}
			e := s.keys.entry(k)
			s.keys.setFlags(e, s.keys.flags(e)|flag)
		}
	}
	items := int(rd.u32())
	for i := 0; i < items && rd.err == nil; i++ {
		s.items[string(rd.take(int(rd.u32())))] = struct{}{}
	}
	stats := make([]int, 6)
	for i := range stats {
		stats[i] = int(binary.LittleEndian.Uint64(rd.take(8)))
	}
	s.Stats = Stats{Accounts: stats[0], Objections: stats[1], ObjectionKeys: stats[2], Consents: stats[3], ConsentKeys: stats[4], ItemExclusions: stats[5]}
	if rd.err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrCorrupt, rd.err)
	}
	want := rd.h.Sum(nil)
	got := make([]byte, 32)
	if _, err := io.ReadFull(rd.br, got); err != nil || !bytes.Equal(got, want) {
		return nil, "", fmt.Errorf("%w: content hash does not match", ErrCorrupt)
	}
	if _, err := rd.br.ReadByte(); err != io.EOF {
		return nil, "", fmt.Errorf("%w: data after the end", ErrCorrupt)
	}
	if s.Head.Seq < 0 || len(s.Head.Hash) != 64 {
		return nil, "", ErrCorrupt
	}
	s.keys.build()
	s.attach(pending)
	return s, hex.EncodeToString(want), nil
}

// peekReader hands out the next n bytes straight from the read buffer,
// hashing them, without a copy or a call per field.
type peekReader struct {
	br  *bufio.Reader
	h   hash.Hash
	err error
}

// take returns the next n bytes, valid until the next call.
func (p *peekReader) take(n int) []byte {
	if p.err != nil {
		return make([]byte, n)
	}
	if n > p.br.Size() {
		b := make([]byte, n)
		if _, p.err = io.ReadFull(p.br, b); p.err != nil {
			return make([]byte, n)
		}
		p.h.Write(b)
		return b
	}
	b, err := p.br.Peek(n)
	if err != nil {
		p.err = err
		return make([]byte, n)
	}
	p.h.Write(b)
	p.br.Discard(n)
	return b
}

func (p *peekReader) u8() uint8   { return p.take(1)[0] }
func (p *peekReader) u32() uint32 { return binary.LittleEndian.Uint32(p.take(4)) }
