// Command ids prints the id of every record of JSON Lines files, one a line,
// sorted bytewise (as LC_ALL=C sort does). It is strict on purpose: a filter
// output must consist of JSON objects with a non-empty string id, so any other
// line is an error naming the file and line.
//
//	go run ./bench/ids FILE.jsonl… > ids.txt
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
)

type batch struct {
	firstLine int
	lines     [][]byte
}

type result struct {
	ids []string
	err error
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ids FILE.jsonl… > ids.txt")
		os.Exit(2)
	}
	var all []string
	for _, path := range os.Args[1:] {
		ids, err := readIDs(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ids:", err)
			os.Exit(1)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	for _, id := range all {
		w.WriteString(id)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "ids:", err)
		os.Exit(1)
	}
}

// readIDs decodes the file's lines on all cores, in batches.
func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	workers := runtime.GOMAXPROCS(0)
	batches := make(chan batch, workers)
	results := make(chan result, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				ids := make([]string, 0, len(b.lines))
				var err error
				for i, line := range b.lines {
					var rec struct {
						ID *string `json:"id"`
					}
					if e := json.Unmarshal(line, &rec); e != nil {
						err = fmt.Errorf("%s:%d: not a JSON object: %v", path, b.firstLine+i, e)
						break
					}
					if rec.ID == nil || *rec.ID == "" {
						err = fmt.Errorf("%s:%d: no id", path, b.firstLine+i)
						break
					}
					ids = append(ids, *rec.ID)
				}
				results <- result{ids, err}
			}
		}()
	}
	var readErr error
	go func() {
		defer close(batches)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		n := 0
		cur := batch{firstLine: 1}
		for sc.Scan() {
			n++
			cur.lines = append(cur.lines, bytes.Clone(sc.Bytes()))
			if len(cur.lines) == 8192 {
				batches <- cur
				cur = batch{firstLine: n + 1}
			}
		}
		if len(cur.lines) > 0 {
			batches <- cur
		}
		if err := sc.Err(); err != nil {
			readErr = fmt.Errorf("%s: %v", path, err)
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var ids []string
	var firstErr error
	for r := range results {
		ids = append(ids, r.ids...)
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	if readErr != nil {
		return nil, readErr
	}
	return ids, firstErr
}
