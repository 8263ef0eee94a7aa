// Command reference is a slow, deliberately plain implementation of the
// default policy of DESIGN.md ("Eligibility semantics") over a JSON Lines
// content export, an account directory and bulk objections. It exists only to
// check the benchmark's DuckDB SQL (and anything else) against something
// obviously correct:
//
//	go run ./bench/reference -content C.jsonl -accounts A.jsonl -objections O.jsonl \
//	    -as-of 2026-06-01T00:00:00Z -ids kept.txt
//
// It prints the number of records read, kept and excluded per reason (the
// first reason that applies, in DESIGN.md's order) as JSON, and writes the
// sorted ids of the kept records, one per line.
//
// Simplifications, fine for the generated data: e-mails are compared after
// lower-casing only (the generator writes lower-case ASCII), bulk
// objections are never withdrawn, and records carry no creators' signals
// (content_usage, tdm_reservation, training_mining), so they are not read.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

var (
	allowedKinds = map[string]bool{
		"post": true, "comment": true, "photo": true, "video": true, "story": true, "reel": true,
		"profile": true, "like": true, "review": true, "ai_chat": true,
	}
	knownProducts = map[string]bool{
		"facebook": true, "instagram": true, "threads": true, "whatsapp": true, "messenger": true,
	}
)

type key struct{ product, id string }

type accountRecord struct {
	Product   string `json:"product"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Birthdate string `json:"birthdate"`
	Handle    string `json:"handle"`
	Group     string `json:"group"`
}

type account struct {
	email     string
	group     string
	hasBirth  bool
	adultFrom time.Time
}

type objectionRecord struct {
	Email       string          `json:"email"`
	Product     string          `json:"product"`
	AccountID   string          `json:"account_id"`
	Scope       json.RawMessage `json:"scope"`
	EffectiveAt string          `json:"effective_at"`
}

func main() {
	content := flag.String("content", "", "content export (JSON Lines)")
	accountsPath := flag.String("accounts", "", "account directory (JSON Lines)")
	objectionsPath := flag.String("objections", "", "bulk objections (JSON Lines)")
	asOfFlag := flag.String("as-of", "2026-06-01T00:00:00Z", "snapshot time S (RFC 3339)")
	idsPath := flag.String("ids", "", "write the sorted ids of the kept records here")
	flag.Parse()
	if *content == "" || *accountsPath == "" || *objectionsPath == "" {
		fmt.Fprintln(os.Stderr, "usage: reference -content FILE -accounts FILE -objections FILE [-as-of RFC3339] [-ids FILE]")
		os.Exit(2)
	}
	asOf, err := time.Parse(time.RFC3339, *asOfFlag)
	if err != nil {
		fail("-as-of: %v", err)
	}
	accounts := loadAccounts(*accountsPath)
	covered := loadCovered(*objectionsPath, accounts, asOf)

	f, err := os.Open(*content)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	counts := map[string]int{}
	var kept []string
	read := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		read++
		id, reason := decide(sc.Bytes(), accounts, covered)
		if reason != "" {
			counts[reason]++
			continue
		}
		kept = append(kept, id)
	}
	if err := sc.Err(); err != nil {
		fail("%s: %v", *content, err)
	}
	if *idsPath != "" {
		slices.Sort(kept)
		out, err := os.Create(*idsPath)
		if err != nil {
			fail("%v", err)
		}
		w := bufio.NewWriter(out)
		for _, id := range kept {
			w.WriteString(id)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			fail("%v", err)
		}
		if err := out.Close(); err != nil {
			fail("%v", err)
		}
	}
	report := map[string]any{
		"read":            read,
		"eligible":        len(kept),
		"excluded":        counts,
		"accounts":        len(accounts),
		"covered_account": len(covered),
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	fmt.Println(string(b))
}

// decide returns the record's id and the first exclusion reason that
// applies, or "" when the record is eligible.
func decide(line []byte, accounts map[key]*account, covered map[key]bool) (string, string) {
	// 1. malformed
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil || rec == nil {
		return "", "malformed"
	}
	id, ok1 := nonEmptyString(rec["id"])
	product, ok2 := nonEmptyString(rec["product"])
	author, ok3 := nonEmptyString(rec["author_id"])
	createdAt, ok4 := nonEmptyString(rec["created_at"])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return id, "malformed"
	}
	created, err := time.Parse(time.RFC3339, createdAt)
	if err != nil {
		return id, "malformed"
	}
	// 2. not_public (an unknown or missing visibility is not public)
	if v, _ := rec["visibility"].(string); v != "public" {
		return id, "not_public"
	}
	// 3. kind_excluded, then product_excluded
	kind, _ := rec["kind"].(string)
	if !allowedKinds[kind] {
		return id, "kind_excluded"
	}
	if !knownProducts[product] || ((product == "whatsapp" || product == "messenger") && kind != "ai_chat") {
		return id, "product_excluded"
	}
	// 4. unknown_author
	a := accounts[key{product, author}]
	if a == nil {
		return id, "unknown_author"
	}
	// 5. minor (unknown birthdate: excluded)
	if !a.hasBirth || created.Before(a.adultFrom) {
		return id, "minor"
	}
	// 6. objection (every bulk objection is in force at S and never withdrawn)
	if covered[key{product, author}] {
		return id, "objection"
	}
	// 7. third_party: a mentioned or tagged account on the item's product
	for _, field := range []string{"mentions", "tags"} {
		list, _ := rec[field].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok && covered[key{product, s}] {
				return id, "third_party"
			}
		}
	}
	return id, ""
}

func nonEmptyString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok && s != ""
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func loadAccounts(path string) map[key]*account {
	accounts := map[key]*account{}
	eachLine(path, func(n int, line []byte) {
		var r accountRecord
		if err := json.Unmarshal(line, &r); err != nil {
			fail("%s:%d: %v", path, n, err)
		}
		a := &account{email: strings.ToLower(r.Email), group: r.Group}
		if r.Birthdate != "" {
			b, err := time.Parse("2006-01-02", r.Birthdate)
			if err != nil {
				fail("%s:%d: birthdate: %v", path, n, err)
			}
			// The 18th birthday begins at 00:00 UTC; 29 February becomes
			// 1 March when the 18th year is not a leap year.
			y, m, d := b.Year()+18, b.Month(), b.Day()
			if m == time.February && d == 29 && !isLeap(y) {
				m, d = time.March, 1
			}
			a.hasBirth = true
			a.adultFrom = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		}
		accounts[key{r.Product, r.AccountID}] = a
	})
	return accounts
}

// loadCovered returns the accounts covered by an objection in force at asOf:
// the accounts whose e-mail matches, plus every account in their link
// groups, restricted to the listed products when the scope is a list.
func loadCovered(path string, accounts map[key]*account, asOf time.Time) map[key]bool {
	byEmail := map[string][]key{}
	byGroup := map[string][]key{}
	for k, a := range accounts {
		byEmail[a.email] = append(byEmail[a.email], k)
		if a.group != "" {
			byGroup[a.group] = append(byGroup[a.group], k)
		}
	}
	covered := map[key]bool{}
	eachLine(path, func(n int, line []byte) {
		var o objectionRecord
		if err := json.Unmarshal(line, &o); err != nil {
			fail("%s:%d: %v", path, n, err)
		}
		eff, err := time.Parse(time.RFC3339, o.EffectiveAt)
		if err != nil {
			fail("%s:%d: effective_at: %v", path, n, err)
		}
		if eff.After(asOf) {
			return
		}
		var all bool
		var scope []string
		if err := json.Unmarshal(o.Scope, &scope); err != nil {
			var s string
			if err := json.Unmarshal(o.Scope, &s); err != nil || s != "all" {
				fail("%s:%d: scope must be \"all\" or a list of products", path, n)
			}
			all = true
		}
		var direct []key
		if o.Email != "" {
			direct = byEmail[strings.ToLower(o.Email)]
		} else if _, ok := accounts[key{o.Product, o.AccountID}]; ok {
			direct = []key{{o.Product, o.AccountID}}
		}
		for _, d := range direct {
			members := []key{d}
			if g := accounts[d].group; g != "" {
				members = byGroup[g]
			}
			for _, m := range members {
				if all || slices.Contains(scope, m.product) {
					covered[m] = true
				}
			}
		}
	})
	return covered
}

func eachLine(path string, fn func(n int, line []byte)) {
	f, err := os.Open(path)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		fn(n, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		fail("%s: %v", path, err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reference: "+format+"\n", args...)
	os.Exit(1)
}
