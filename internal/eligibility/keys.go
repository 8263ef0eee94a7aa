package eligibility

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"

	"github.com/notrain/notrain/internal/platform"
)

// keyTable maps (product, account id) to an account. Each account is one
// entry in a byte arena holding everything a decision reads about it:
//
//	index u32 | birth i32 | flags u8 | product u8 | id length u16 | grants u32 | id
//
// so a lookup touches two cache lines, the slot and the entry, instead of
// one per array. Slots are uint32 arena offsets (+1; 0 is empty) with open
// addressing at about 75 % load. About 5 bytes of slots, 4 of offsets, 16 of
// entry and the id's bytes per account: a million accounts with short ids
// take under 35 megabytes.
type keyTable struct {
	arena []byte
	off   []uint32 // entry offset of each index, for Key and the file
	slots []uint32
	size  uint64
	seed  maphash.Seed
}

const entryHeader = 16

// productCode numbers the known products from 1; 0 is "unknown".
func productCode(p []byte) uint8 {
	for i, name := range productNames {
		if string(p) == name {
			return uint8(i + 1)
		}
	}
	return 0
}

var productNames = platform.Products()

// newKeyTable sizes the arena for accounts whose ids total idBytes bytes;
// idBytes 0 means unknown (the arena then grows as needed).
func newKeyTable(accounts, idBytes int) *keyTable {
	arena := 0
	if idBytes > 0 {
		arena = accounts*entryHeader + idBytes
	}
	return &keyTable{off: make([]uint32, 0, accounts), arena: make([]byte, 0, arena), seed: maphash.MakeSeed()}
}

func (k *keyTable) len() int { return len(k.off) }

// add appends an account (each key once) and returns its index.
func (k *keyTable) add(product uint8, id []byte, birth int32, flags uint8) int32 {
	idx := uint32(len(k.off))
	k.off = append(k.off, uint32(len(k.arena)))
	var h [entryHeader]byte
	binary.LittleEndian.PutUint32(h[0:], idx)
	binary.LittleEndian.PutUint32(h[4:], uint32(birth))
	h[8], h[9] = flags, product
	binary.LittleEndian.PutUint16(h[10:], uint16(len(id)))
	k.arena = append(k.arena, h[:]...)
	k.arena = append(k.arena, id...)
	return int32(idx)
}

func (k *keyTable) entry(idx int32) uint32 { return k.off[idx] }

func (k *keyTable) product(e uint32) uint8 { return k.arena[e+9] }
func (k *keyTable) flags(e uint32) uint8   { return k.arena[e+8] }
func (k *keyTable) birth(e uint32) int32 {
	return int32(binary.LittleEndian.Uint32(k.arena[e+4:]))
}
func (k *keyTable) index(e uint32) int32 { return int32(binary.LittleEndian.Uint32(k.arena[e:])) }

// grants is the entry's grant slot (1-based; 0: no objections or consents).
func (k *keyTable) grants(e uint32) uint32 { return binary.LittleEndian.Uint32(k.arena[e+12:]) }
func (k *keyTable) setGrants(e, slot uint32) {
	binary.LittleEndian.PutUint32(k.arena[e+12:], slot)
}
func (k *keyTable) id(e uint32) []byte {
	n := uint32(binary.LittleEndian.Uint16(k.arena[e+10:]))
	return k.arena[e+entryHeader : e+entryHeader+n]
}

// key returns the product code and id of index i.
func (k *keyTable) key(i int32) (uint8, []byte) {
	e := k.off[i]
	return k.product(e), k.id(e)
}

func (k *keyTable) hash(product uint8, id []byte) uint64 {
	return maphash.Bytes(k.seed, id) ^ (uint64(product) * 0x9E3779B97F4A7C15)
}

// build makes the slots once all accounts are added, and drops arena
// capacity the accounts did not use.
func (k *keyTable) build() {
	if cap(k.arena) > len(k.arena)+len(k.arena)/16 {
		k.arena = append([]byte(nil), k.arena...)
	}
	n := k.len()
	k.size = uint64(n + n/3 + 8)
	k.slots = make([]uint32, k.size)
	for _, e := range k.off {
		j := k.start(k.product(e), k.id(e))
		for k.slots[j] != 0 {
			j = k.next(j)
		}
		k.slots[j] = e + 1
	}
}

// start maps a key's hash onto the slots (multiply-shift: any table size).
func (k *keyTable) start(product uint8, id []byte) uint64 {
	hi, _ := bits.Mul64(k.hash(product, id), k.size)
	return hi
}

func (k *keyTable) next(j uint64) uint64 {
	if j++; j == k.size {
		return 0
	}
	return j
}

// lookup returns the entry of (product, id), or ok = false.
func (k *keyTable) lookup(product uint8, id []byte) (e uint32, ok bool) {
	if product == 0 || len(k.slots) == 0 {
		return 0, false
	}
	j := k.start(product, id)
	for {
		s := k.slots[j]
		if s == 0 {
			return 0, false
		}
		e = s - 1
		a := k.arena[e:]
		if a[9] == product && int(binary.LittleEndian.Uint16(a[10:])) == len(id) && bytes.Equal(a[entryHeader:entryHeader+len(id)], id) {
			return e, true
		}
		j = k.next(j)
	}
}

// setFlags updates the flags of an entry (used while building).
func (k *keyTable) setFlags(e uint32, f uint8) { k.arena[e+8] = f }
