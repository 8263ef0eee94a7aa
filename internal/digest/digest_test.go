package digest

import (
	"io"
	"testing"
)

// paint is the input of BLAKE3's official test vectors: bytes 0…250 repeated.
func paint(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func TestKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		alg  Algorithm
		in   []byte
		want string
	}{
		// BLAKE3-team/BLAKE3 test_vectors/test_vectors.json, "hash", first 32 bytes.
		{BLAKE3, paint(0), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{BLAKE3, paint(1), "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{BLAKE3, paint(2), "7b7015bb92cf0b318037702a6cdd81dee41224f734684c2c122cd6359cb1ee63"},
		{BLAKE3, paint(3), "e1be4d7a8ab5560aa4199eea339849ba8e293d55ca0a81006726d184519e647f"},
		// FIPS 180-2 appendix B.1.
		{SHA256, []byte("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		if got := c.alg.Sum(c.in); got != c.want {
			t.Errorf("%s of %d bytes = %s, want %s", c.alg, len(c.in), got, c.want)
		}
	}
}

// A digest must not depend on how the bytes arrive: the filter hashes
// files in reads of whatever size the kernel returns.
func TestStreamedEqualsWhole(t *testing.T) {
	in := paint(3<<20 + 17)
	for _, alg := range []Algorithm{SHA256, BLAKE3} {
		got, n, err := alg.Reader(&oddReader{b: in})
		if err != nil || n != int64(len(in)) {
			t.Fatalf("%s: read %d bytes, %v", alg, n, err)
		}
		if want := alg.Sum(in); got != want {
			t.Errorf("%s streamed %s, whole %s", alg, got, want)
		}
	}
	if SHA256.Sum(in) == BLAKE3.Sum(in) {
		t.Error("the two algorithms gave the same digest")
	}
}

type oddReader struct {
	b []byte
	k int
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.k = r.k%4093 + 1021 // sizes that cross BLAKE3's 1 KiB chunks unevenly
	n := copy(p[:min(len(p), r.k)], r.b)
	r.b = r.b[n:]
	return n, nil
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Algorithm{"": SHA256, "sha256": SHA256, "blake3": BLAKE3} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"SHA256", "sha-256", "md5", "blake2b"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

// BenchmarkDigest hashes 512 KiB writes, the filter's chunk size, on the
// calling goroutine as the filter's reader and writer do.
func BenchmarkDigest(b *testing.B) {
	buf := paint(512 << 10)
	for _, alg := range []Algorithm{SHA256, BLAKE3} {
		b.Run(string(alg), func(b *testing.B) {
			h := alg.New()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				h.Write(buf)
			}
		})
	}
}
