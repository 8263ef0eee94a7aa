package jsonlines

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEach(t *testing.T) {
	var got []string
	var nums []int
	sha, size, err := Each(strings.NewReader("a\n\n  b  \r\nc"), 10, func(n int, line []byte) error {
		got, nums = append(got, string(line)), append(nums, n)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a,b,c" || nums[2] != 4 || size != 11 || len(sha) != 64 {
		t.Fatalf("Each = %q %v %d %s %v", got, nums, size, sha, err)
	}
	_, _, err = Each(strings.NewReader("ok\n"+strings.Repeat("x", 11)+"\n"), 10, func(int, []byte) error { return nil })
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Fatalf("long line: %v", err)
	}
	_, _, err = Each(strings.NewReader("a\nb\n"), 10, func(n int, _ []byte) error {
		if n == 2 {
			return errors.New("bad")
		}
		return nil
	})
	if !errors.As(err, &le) || le.Line != 2 || le.Error() != "line 2: bad" {
		t.Fatalf("callback error: %v", err)
	}
}

// TestEachFraming: a BOM opens the file only; only JSON whitespace is blank.
func TestEachFraming(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"\ufeffa\r\nb\r\n", "1:a,2:b"},
		{"\ufeff\r\n\ufeffa\n", "2:\ufeffa"},
		{" \t\r\n\u00a0\nc", "2:\u00a0,3:c"},
		{"\u2028\n", "1:\u2028"},
	}
	for _, tt := range tests {
		var got []string
		if _, _, err := Each(strings.NewReader(tt.in), 100, func(n int, line []byte) error {
			got = append(got, fmt.Sprintf("%d:%s", n, line))
			return nil
		}); err != nil || strings.Join(got, ",") != tt.want {
			t.Errorf("Each(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
