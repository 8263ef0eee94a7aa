package eligibility

import (
	"bytes"
	"hash/maphash"

	"github.com/notrain/notrain/internal/platform"
)

// keyTable maps (product, account id) to a dense index. Keys live in one
// byte arena (product code, then the id); lookups use open addressing over
// uint32 slots. About 4 bytes of offsets, 8 of slots and the id's own bytes
// per account: a million accounts fit in a few tens of megabytes.
type keyTable struct {
	arena []byte
	off   []uint32 // key i is arena[off[i]:off[i+1]]
	slots []uint32 // 0 empty, else index+1
	mask  uint64
	seed  maphash.Seed
}

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

func newKeyTable(capHint int) *keyTable {
	return &keyTable{off: make([]uint32, 1, capHint+1), arena: make([]byte, 0, capHint*10), seed: maphash.MakeSeed()}
}

func (k *keyTable) len() int { return len(k.off) - 1 }

// add appends a key (callers add each key once) and returns its index.
func (k *keyTable) add(product uint8, id []byte) int32 {
	k.arena = append(k.arena, product)
	k.arena = append(k.arena, id...)
	k.off = append(k.off, uint32(len(k.arena)))
	return int32(k.len() - 1)
}

// key returns the product code and id of index i.
func (k *keyTable) key(i int32) (uint8, []byte) {
	b := k.arena[k.off[i]:k.off[i+1]]
	return b[0], b[1:]
}

func (k *keyTable) hash(product uint8, id []byte) uint64 {
	return maphash.Bytes(k.seed, id) ^ (uint64(product) * 0x9E3779B97F4A7C15)
}

// index builds the slots once all keys are added.
func (k *keyTable) index() {
	n := k.len()
	size := 8
	for size < 2*n {
		size <<= 1
	}
	k.slots = make([]uint32, size)
	k.mask = uint64(size - 1)
	for i := range n {
		p, id := k.key(int32(i))
		j := k.hash(p, id) & k.mask
		for k.slots[j] != 0 {
			j = (j + 1) & k.mask
		}
		k.slots[j] = uint32(i + 1)
	}
}

// lookup returns the index of (product, id), or -1.
func (k *keyTable) lookup(product uint8, id []byte) int32 {
	if product == 0 || len(k.slots) == 0 {
		return -1
	}
	j := k.hash(product, id) & k.mask
	for {
		s := k.slots[j]
		if s == 0 {
			return -1
		}
		i := s - 1
		b := k.arena[k.off[i]:k.off[i+1]]
		if b[0] == product && bytes.Equal(b[1:], id) {
			return int32(i)
		}
		j = (j + 1) & k.mask
	}
}
