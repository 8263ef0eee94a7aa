// Command gen writes the deterministic data set of the filter benchmark:
// an account directory, bulk objections and a content export (JSON Lines and
// Parquet) in the formats of DESIGN.md's contracts.
//
//	go run ./bench/gen -records 6000000 -accounts 1000000 -objections 100000 -out bench/data
//
// The same flags and seed always produce byte-identical files, whatever the
// number of workers. The content mixes every exclusion reason of the default
// policy: non-public and unknown visibilities, messages and unknown kinds,
// non-AI chats on WhatsApp and Messenger, unknown products and authors,
// minors (with items on both sides of the 18th birthday, 29 February
// included, in several UTC offsets), objectors and their link groups,
// mentions and tags of objectors, and about 0.1 % malformed lines.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
)

// formatVersion changes whenever the generated data changes for the same
// flags, so that stale data sets are regenerated.
const formatVersion = 2

var (
	// asOf is the snapshot time the benchmark passes to both sides; every
	// objection is effective before it and every item is created before it.
	asOf         = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	contentStart = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
)

type product struct {
	name, prefix string
	weight       float64 // share of accounts
	kinds        []weighted
}

type weighted struct {
	value  string
	weight float64
}

// The five products of the contract. Kind mixes follow what the products
// are used for; the unknown kinds ("event", "live", …) must be excluded.
var products = []product{
	{"facebook", "fb", 35, []weighted{{"post", 28}, {"comment", 25}, {"photo", 12}, {"video", 5}, {"story", 5}, {"reel", 3}, {"profile", 2}, {"like", 10}, {"review", 3}, {"message", 5}, {"ai_chat", 1}, {"event", 0.5}, {"poll", 0.5}}},
	{"instagram", "ig", 30, []weighted{{"photo", 28}, {"comment", 22}, {"story", 14}, {"reel", 14}, {"post", 4}, {"like", 9}, {"profile", 2}, {"message", 5}, {"ai_chat", 1}, {"live", 1}}},
	{"threads", "th", 10, []weighted{{"post", 55}, {"comment", 30}, {"like", 8}, {"profile", 2}, {"photo", 2}, {"message", 1}, {"ai_chat", 1}, {"repost", 1}}},
	{"whatsapp", "wa", 15, []weighted{{"message", 50}, {"ai_chat", 30}, {"story", 8}, {"profile", 5}, {"photo", 5}, {"status", 2}}},
	{"messenger", "ms", 10, []weighted{{"message", 55}, {"ai_chat", 35}, {"photo", 5}, {"video", 3}, {"call", 2}}},
}

// Products that are not in the contract (and a wrongly cased one).
var unknownProducts = []string{"horizon", "workplace", "Facebook"}

var visibilities = []weighted{{"public", 75}, {"friends", 14}, {"private", 9}, {"followers", 0.8}, {"PUBLIC", 0.4}, {"", 0.3}, {"-", 0.5}} // "-": field left out

var firstNames = []string{"anna", "ben", "clara", "david", "emma", "felix", "greta", "hannah", "ida", "jonas", "karl", "lena", "max", "nora", "oskar", "paula", "quentin", "rosa", "samuel", "theresa", "ulrich", "vera", "wilhelm", "xenia", "yusuf", "zoe", "ahmet", "elif", "marie", "lukas", "sofia", "noah", "mia", "leon", "lina", "paul", "ella", "finn", "amelie", "jan", "mehmet", "olga", "pierre", "giulia", "jakub", "ines", "liam", "chloe"}

var lastNames = []string{"mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "braun", "zimmermann", "krueger", "hartmann", "lange", "werner", "krause", "lehmann", "koehler", "yilmaz", "kaya", "nowak", "kowalski", "rossi", "dubois", "martin", "garcia", "jansen", "peters", "vogel", "berger"}

var domains = []string{"gmail.com", "web.de", "gmx.de", "gmx.net", "t-online.de", "outlook.com", "yahoo.de", "posteo.de", "mailbox.org", "icloud.com", "example.de", "example.org", "uni-hamburg.de", "freenet.de"}

// Words for the free text; a few carry characters that need JSON escapes.
var words = []string{
	"heute", "morgen", "wieder", "endlich", "Urlaub", "Sommer", "Kaffee", "Katze", "Hund", "Garten", "Fußball", "Bäckerei", "Grüße",
	"schön", "Straße", "Übung", "Äpfel", "Öffnungszeiten", "München", "Köln", "Zürich", "Wien", "Berlin", "Hamburg", "danke", "für",
	"alle", "die", "der", "das", "und", "ist", "nicht", "mit", "auf", "ein", "eine", "wir", "ihr", "sie", "noch", "schon", "sehr",
	"the", "and", "a", "to", "of", "in", "is", "it", "you", "that", "was", "for", "on", "are", "with", "as", "this", "at", "be",
	"today", "weekend", "coffee", "sunset", "family", "friends", "new", "recipe", "trip", "beach", "mountains", "city", "love",
	"photo", "video", "birthday", "party", "concert", "game", "match", "team", "work", "office", "news", "update", "question",
	"#ki", "#datenschutz", "#urlaub", "#foodporn", "#nofilter", "#montag", "#throwback", "@friend", "https://example.org/p/12345",
	"🙂", "😂", "❤️", "👍", "🌅", "☕", "🎉", "café", "naïve", "façade", "smørrebrød", "Ελλάδα", "Україна", "東京", "₂CO",
	"\"zitiert\"", "back\\slash", "C:\\Users", "tab\there", "line\nbreak", "ctrl\u0001char", "ok?", "ja!", "nein.", "…", "–", "50%",
	"<b>fett</b>", "a&b", "{json}", "[list]", "x/y",
}

var langs = []weighted{{"de", 45}, {"en", 30}, {"fr", 5}, {"it", 4}, {"pl", 4}, {"tr", 4}, {"nl", 3}, {"es", 3}, {"-", 2}}

type account struct {
	product   uint8
	id        string
	email     string
	handle    string
	group     string
	birth     string // YYYY-MM-DD or "" when unknown
	adultFrom int64  // Unix time of the 18th birthday at 00:00 UTC; 0 when unknown
}

type dataset struct {
	accounts  []account
	byProduct [5][]int32 // account indices per product
	active    int        // the first `active` accounts post more often
	counters  [5]int     // number of account ids per product ("u1" … "uN")
}

func main() {
	var (
		records    = flag.Int("records", 6_000_000, "number of content records")
		accounts   = flag.Int("accounts", 1_000_000, "number of accounts in the directory")
		objections = flag.Int("objections", 100_000, "number of bulk objections")
		seed       = flag.Uint64("seed", 1, "random seed")
		out        = flag.String("out", "bench/data", "output directory")
		withPQ     = flag.Bool("parquet", true, "also write content.parquet")
		workers    = flag.Int("workers", runtime.GOMAXPROCS(0), "content generator goroutines")
		chunk      = flag.Int("chunk", 32768, "records per generated chunk")
		rowGroup   = flag.Int64("row-group", 128*1024, "rows per Parquet row group")
		version    = flag.Bool("version", false, "print the data format version and exit")
	)
	flag.Parse()
	if *version {
		fmt.Println(formatVersion)
		return
	}
	if *records < 0 || *accounts < 1 || *objections < 0 || *objections > *accounts || *workers < 1 || *chunk < 1 {
		fmt.Fprintln(os.Stderr, "gen: need -records >= 0, -accounts >= 1, 0 <= -objections <= -accounts, -workers >= 1, -chunk >= 1")
		os.Exit(2)
	}
	if err := run(*out, *records, *accounts, *objections, *seed, *withPQ, *workers, *chunk, *rowGroup); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string, nRecords, nAccounts, nObjections int, seed uint64, withPQ bool, workers, chunk int, rowGroup int64) error {
	start := time.Now()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The parameter file is written last; remove it first so an interrupted
	// run never looks complete.
	paramsPath := filepath.Join(out, "params.json")
	if err := os.Remove(paramsPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}

	ds := makeAccounts(nAccounts, rand.New(rand.NewPCG(seed, 1)))
	if err := writeFile(filepath.Join(out, "accounts.jsonl"), func(w *bufio.Writer) error { return writeAccounts(w, ds) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, "objections.jsonl"), func(w *bufio.Writer) error {
		return writeObjections(w, ds, nObjections, rand.New(rand.NewPCG(seed, 2)))
	}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %d accounts, %d objections in %.1fs\n", nAccounts, nObjections, time.Since(start).Seconds())

	stats, err := writeContent(out, ds, nRecords, seed, withPQ, workers, chunk, rowGroup)
	if err != nil {
		return err
	}
	params := map[string]any{
		"format_version": formatVersion,
		"records":        nRecords,
		"accounts":       nAccounts,
		"objections":     nObjections,
		"seed":           seed,
		"parquet":        withPQ,
		"as_of":          asOf.Format(time.RFC3339),
		"content_bytes":  stats.bytes,
		"malformed":      stats.malformed,
		"parquet_rows":   stats.pqRows,
	}
	b, err := json.MarshalIndent(params, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(paramsPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %d records (%d malformed lines), %.1f MB JSONL, %d Parquet rows, done in %.1fs\n",
		nRecords, stats.malformed, float64(stats.bytes)/1e6, stats.pqRows, time.Since(start).Seconds())
	return nil
}

// writeFile writes through a temporary name and renames on success.
func writeFile(path string, body func(*bufio.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := body(w); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func pick(r *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.weight {
			return w.value
		}
		x -= w.weight
	}
	return ws[len(ws)-1].value
}

func pickProduct(r *rand.Rand, taken []uint8) uint8 {
	for {
		total := 0.0
		for _, p := range products {
			total += p.weight
		}
		x := r.Float64() * total
		var p uint8
		for i := range products {
			if x < products[i].weight {
				p = uint8(i)
				break
			}
			x -= products[i].weight
			p = uint8(i)
		}
		dup := false
		for _, t := range taken {
			dup = dup || t == p
		}
		if !dup {
			return p
		}
	}
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// adultFrom is the start of the 18th birthday, 00:00 UTC; someone born on
// 29 February comes of age on 1 March in a common year.
func adultFrom(b time.Time) time.Time {
	y := b.Year() + 18
	if b.Month() == time.February && b.Day() == 29 && !isLeap(y) {
		return time.Date(y, time.March, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
}

func randomDay(r *rand.Rand, from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	return from.AddDate(0, 0, r.IntN(days+1))
}

func birthdate(r *rand.Rand) (time.Time, bool) {
	x := r.Float64()
	switch {
	case x < 0.01: // unknown
		return time.Time{}, false
	case x < 0.04: // minors: born after 2008
		return randomDay(r, time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2012, 12, 31, 0, 0, 0, 0, time.UTC)), true
	case x < 0.06: // come of age while the content was written
		return randomDay(r, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2008, 12, 31, 0, 0, 0, 0, time.UTC)), true
	case x < 0.065: // 29 February, 2008 (18 on 1 March 2026) most often
		years := []int{2008, 2008, 2008, 2004, 2004, 2000, 1996, 1988, 1972}
		return time.Date(years[r.IntN(len(years))], time.February, 29, 0, 0, 0, 0, time.UTC), true
	default:
		return randomDay(r, time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 12, 31, 0, 0, 0, 0, time.UTC)), true
	}
}

func makeAccounts(n int, r *rand.Rand) *dataset {
	ds := &dataset{accounts: make([]account, 0, n)}
	for person := 1; len(ds.accounts) < n; person++ {
		k := 1
		switch x := r.Float64(); {
		case x < 0.5:
			k = 1
		case x < 0.8:
			k = 2
		default:
			k = 3
		}
		k = min(k, n-len(ds.accounts))
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		domain := domains[r.IntN(len(domains))]
		// Most people use one address for all their accounts; some use a
		// different one per account.
		shared := r.Float64() < 0.6
		group := "g-" + strconv.Itoa(person)
		birth, known := birthdate(r)
		var taken []uint8
		for j := 0; j < k; j++ {
			p := pickProduct(r, taken)
			taken = append(taken, p)
			ds.counters[p]++
			a := account{
				product: p,
				id:      "u" + strconv.Itoa(ds.counters[p]),
				group:   group,
				handle:  first + "_" + last + "_" + strconv.Itoa(person),
			}
			switch {
			case j == 0 || shared:
				a.email = first + "." + last + "." + strconv.Itoa(person) + "@" + domain
			case j == 1:
				a.email = first[:1] + last + strconv.Itoa(person) + "@" + domains[r.IntN(len(domains))]
			default:
				a.email = last + "." + first + "+" + products[p].prefix + strconv.Itoa(person) + "@" + domains[r.IntN(len(domains))]
			}
			if known {
				a.birth = birth.Format("2006-01-02")
				a.adultFrom = adultFrom(birth).Unix()
			}
			ds.byProduct[p] = append(ds.byProduct[p], int32(len(ds.accounts)))
			ds.accounts = append(ds.accounts, a)
		}
	}
	ds.active = max(1, n/20)
	return ds
}

func writeAccounts(w *bufio.Writer, ds *dataset) error {
	var b []byte
	for _, a := range ds.accounts {
		b = append(b[:0], `{"product":"`...)
		b = append(b, products[a.product].name...)
		b = append(b, `","account_id":"`...)
		b = append(b, a.id...)
		b = append(b, `","email":"`...)
		b = append(b, a.email...)
		b = append(b, '"')
		if a.birth != "" {
			b = append(b, `,"birthdate":"`...)
			b = append(b, a.birth...)
			b = append(b, '"')
		}
		b = append(b, `,"handle":"`...)
		b = append(b, a.handle...)
		b = append(b, `","group":"`...)
		b = append(b, a.group...)
		b = append(b, "\"}\n"...)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// writeObjections objects for n distinct accounts (by their e-mail; people
// who share one address over several accounts can appear twice, which is a
// repeated objection). About 10 % are limited to a list of products.
func writeObjections(w *bufio.Writer, ds *dataset, n int, r *rand.Rand) error {
	perm := r.Perm(len(ds.accounts))[:n]
	from := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	span := asOf.Add(-72*time.Hour).Unix() - from.Unix()
	var b []byte
	for i, ai := range perm {
		a := ds.accounts[ai]
		received := time.Unix(from.Unix()+r.Int64N(span), 0).UTC()
		effective := received.Add(time.Duration(r.Int64N(int64(48*time.Hour/time.Second))) * time.Second)
		b = append(b[:0], `{"email":"`...)
		b = append(b, a.email...)
		b = append(b, `","scope":`...)
		if r.Float64() < 0.1 {
			// A list: the objector's own product, sometimes with others.
			scope := []uint8{a.product}
			if r.Float64() < 0.4 {
				scope = append(scope, pickProduct(r, scope))
			}
			if r.Float64() < 0.2 {
				// A product the objector's own account is not on.
				scope = []uint8{pickProduct(r, []uint8{a.product})}
			}
			b = append(b, '[')
			for j, p := range scope {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = append(b, products[p].name...)
				b = append(b, '"')
			}
			b = append(b, ']')
		} else {
			b = append(b, `"all"`...)
		}
		b = append(b, `,"received_at":"`...)
		b = received.AppendFormat(b, time.RFC3339)
		b = append(b, `","effective_at":"`...)
		b = effective.AppendFormat(b, time.RFC3339)
		b = append(b, `","channel":"import"`...)
		if i%20 == 7 {
			b = append(b, `,"note":"ticket `...)
			b = strconv.AppendInt(b, int64(4000+i), 10)
			b = append(b, '"')
		}
		b = append(b, "}\n"...)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// pqRow is one content record in the Parquet copy. Optional strings are
// written as null when empty (a missing id or author is then a null).
type pqRow struct {
	ID         string   `parquet:"id,optional"`
	Product    string   `parquet:"product,optional,dict"`
	AuthorID   string   `parquet:"author_id,optional"`
	Kind       string   `parquet:"kind,optional,dict"`
	Visibility string   `parquet:"visibility,optional,dict"`
	CreatedAt  string   `parquet:"created_at,optional"`
	Text       string   `parquet:"text,optional"`
	Mentions   []string `parquet:"mentions,optional,list"`
	Tags       []string `parquet:"tags,optional,list"`
	Lang       string   `parquet:"lang,optional,dict"`
	Edited     *bool    `parquet:"edited,optional"`
}

type chunkResult struct {
	jsonl     []byte
	rows      []pqRow
	malformed int
}

type contentStats struct {
	bytes     int64
	malformed int
	pqRows    int64
}

func writeContent(out string, ds *dataset, n int, seed uint64, withPQ bool, workers, chunk int, rowGroup int64) (contentStats, error) {
	var st contentStats
	nChunks := (n + chunk - 1) / chunk
	// results[i] receives chunk i; at most 2*workers chunks are in flight.
	results := make([]chan chunkResult, nChunks)
	for i := range results {
		results[i] = make(chan chunkResult, 1)
	}
	sem := make(chan struct{}, 2*workers)
	next := make(chan int)
	go func() {
		for i := 0; i < nChunks; i++ {
			sem <- struct{}{}
			next <- i
		}
		close(next)
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lo := i * chunk
				hi := min(n, lo+chunk)
				results[i] <- genChunk(ds, seed, i, lo, hi, withPQ)
			}
		}()
	}

	jsonlPath := filepath.Join(out, "content.jsonl")
	pqPath := filepath.Join(out, "content.parquet")
	jf, err := os.Create(jsonlPath + ".tmp")
	if err != nil {
		return st, err
	}
	defer jf.Close()
	var pf *os.File
	var pw *parquet.GenericWriter[pqRow]
	var pqErr error
	pqCh := make(chan []pqRow, 2)
	pqDone := make(chan struct{})
	if withPQ {
		pf, err = os.Create(pqPath + ".tmp")
		if err != nil {
			return st, err
		}
		defer pf.Close()
		pw = parquet.NewGenericWriter[pqRow](pf,
			parquet.Compression(&parquet.Snappy),
			parquet.MaxRowsPerRowGroup(rowGroup),
			parquet.PageBufferSize(1<<20),
			parquet.WriteBufferSize(1<<20),
			parquet.SkipPageBounds("text"),
			parquet.CreatedBy("notrain bench/gen", strconv.Itoa(formatVersion), ""),
		)
		go func() {
			defer close(pqDone)
			for rows := range pqCh {
				if pqErr != nil {
					continue
				}
				if _, err := pw.Write(rows); err != nil {
					pqErr = err
				}
			}
			if pqErr == nil {
				pqErr = pw.Close()
			}
		}()
	} else {
		close(pqDone)
	}

	lastReport := time.Now()
	var werr error
	for i := 0; i < nChunks; i++ {
		res := <-results[i]
		<-sem
		if werr == nil {
			if _, err := jf.Write(res.jsonl); err != nil {
				werr = err
			}
		}
		st.bytes += int64(len(res.jsonl))
		st.malformed += res.malformed
		if withPQ {
			st.pqRows += int64(len(res.rows))
			pqCh <- res.rows
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(os.Stderr, "gen: %d/%d records\n", min(n, (i+1)*chunk), n)
		}
	}
	wg.Wait()
	close(pqCh)
	<-pqDone
	if werr != nil {
		return st, werr
	}
	if pqErr != nil {
		return st, fmt.Errorf("%s: %w", pqPath, pqErr)
	}
	if err := jf.Close(); err != nil {
		return st, err
	}
	if err := os.Rename(jsonlPath+".tmp", jsonlPath); err != nil {
		return st, err
	}
	if withPQ {
		if err := pf.Close(); err != nil {
			return st, err
		}
		if err := os.Rename(pqPath+".tmp", pqPath); err != nil {
			return st, err
		}
	} else if err := os.Remove(pqPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	return st, nil
}

// item is one generated content record before serialisation.
type item struct {
	id, product, author, kind, visibility, created, text, lang string
	hasVisibility, hasKind                                     bool
	mentions, tags                                             []string
	mentionsForm, tagsForm                                     byte // 'a' array, 'e' empty array, 'o' omitted, 'n' null
	edited                                                     byte // 0 omitted, 't', 'f'
	shuffled                                                   bool
}

var zones = []*time.Location{
	time.FixedZone("", 1*3600), time.FixedZone("", 2*3600), time.FixedZone("", -5*3600),
	time.FixedZone("", 5*3600+1800), time.FixedZone("", -(3*3600 + 1800)),
}

var badTimes = []string{
	"2025-13-01T10:00:00Z", "2025-02-30T10:00:00Z", "2025-05-01 10:00:00Z", "2025-05-01T10:00:00",
	"yesterday", "1714550400", "2025-05-01T25:00:00Z", "2025-05-01", "", "2025-05-01T10:00:00+0200",
}

func genChunk(ds *dataset, seed uint64, chunkIdx, lo, hi int, withPQ bool) chunkResult {
	r := rand.New(rand.NewPCG(seed, 1000+uint64(chunkIdx)))
	res := chunkResult{jsonl: make([]byte, 0, (hi-lo)*360)}
	if withPQ {
		res.rows = make([]pqRow, 0, hi-lo)
	}
	windowLo, windowHi := contentStart.Unix(), asOf.Unix()
	var txt []byte
	for rec := lo; rec < hi; rec++ {
		var it item
		// Author and product.
		var a *account
		pi := -1
		switch x := r.Float64(); {
		case x < 0.003: // a product that is not in the contract
			it.product = unknownProducts[r.IntN(len(unknownProducts))]
			it.author = "u" + strconv.Itoa(1+r.IntN(100000))
			it.id = "xx:" + strconv.Itoa(rec+1)
		default:
			var ai int
			if r.Float64() < 0.3 {
				ai = r.IntN(ds.active)
			} else {
				ai = r.IntN(len(ds.accounts))
			}
			a = &ds.accounts[ai]
			pi = int(a.product)
			it.product = products[pi].name
			it.id = products[pi].prefix + ":" + strconv.Itoa(rec+1)
			it.author = a.id
			if x < 0.013 { // an author the directory does not know on this product
				it.author = "u" + strconv.Itoa(ds.counters[pi]+1+r.IntN(1_000_000))
				a = nil
			}
		}
		if pi >= 0 {
			it.kind = pick(r, products[pi].kinds)
		} else {
			it.kind = pick(r, products[r.IntN(len(products))].kinds)
		}
		it.hasKind = r.Float64() >= 0.002
		it.visibility = pick(r, visibilities)
		it.hasVisibility = it.visibility != "-"

		// Creation time: near the author's 18th birthday for some items of
		// people who came of age during the window, anywhere otherwise.
		var t time.Time
		if a != nil && a.adultFrom > windowLo+7*86400 && a.adultFrom < windowHi-7*86400 && r.Float64() < 0.4 {
			offsets := []int64{-1, 0, 0, 1, -3600, 3600, 59}
			var off int64
			if r.Float64() < 0.5 {
				off = offsets[r.IntN(len(offsets))]
			} else {
				off = r.Int64N(6*86400) - 3*86400
			}
			t = time.Unix(a.adultFrom+off, 0).UTC()
		} else {
			t = time.Unix(windowLo+r.Int64N(windowHi-windowLo), 0).UTC()
		}
		switch x := r.Float64(); {
		case x < 0.85:
			it.created = t.Format(time.RFC3339)
		case x < 0.93:
			it.created = t.Add(time.Duration(r.IntN(1000)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		default:
			it.created = t.In(zones[r.IntN(len(zones))]).Format(time.RFC3339)
		}

		// Text.
		txt = genText(txt[:0], r)
		it.text = string(txt)

		// Mentions and tags: account ids on the item's product, sometimes
		// ids from nowhere.
		it.mentions, it.mentionsForm = genPeople(r, ds, pi, 0.25, 3)
		it.tags, it.tagsForm = genPeople(r, ds, pi, 0.12, 2)
		it.lang = pick(r, langs)
		switch x := r.Float64(); {
		case x < 0.02:
			it.edited = 't'
		case x < 0.03:
			it.edited = 'f'
		}
		it.shuffled = r.Float64() < 0.01

		// About 0.1 % malformed lines.
		malformed := byte(0)
		if r.Float64() < 0.001 {
			kinds := "ttttttiiieeaaappbbbbbbbo" // truncated, no id, empty id, no author, no product, bad time, not an object
			malformed = kinds[r.IntN(len(kinds))]
			res.malformed++
		}
		start := len(res.jsonl)
		switch malformed {
		case 'i':
			it.id = "-"
		case 'e':
			it.id = ""
		case 'a':
			it.author = "-"
		case 'p':
			it.product = "-"
		case 'b':
			it.created = badTimes[r.IntN(len(badTimes))]
		}
		if malformed == 'o' {
			nonObjects := []string{`null`, `[]`, `"fb:1"`, `42`, `[{"id":"fb:1"}]`}
			res.jsonl = append(res.jsonl, nonObjects[r.IntN(len(nonObjects))]...)
			res.jsonl = append(res.jsonl, '\n')
			continue
		}
		res.jsonl = appendItem(res.jsonl, &it)
		if malformed == 't' {
			// Cut the line short (never at its end, so it stays invalid).
			line := res.jsonl[start : len(res.jsonl)-1]
			cut := 1 + r.IntN(len(line)-1)
			if r.Float64() < 0.3 {
				// Right after a key's colon: a reader that does not stop at
				// the newline takes the next line for the missing value.
				var colons []int
				for i := 1; i < len(line)-1; i++ {
					if line[i] == ':' && line[i-1] == '"' {
						colons = append(colons, i+1)
					}
				}
				if len(colons) > 0 {
					cut = colons[r.IntN(len(colons))]
				}
			}
			res.jsonl = append(res.jsonl[:start+cut], '\n')
			continue
		}
		if withPQ {
			res.rows = append(res.rows, toRow(&it))
		}
	}
	return res
}

func genText(b []byte, r *rand.Rand) []byte {
	var n int
	switch x := r.Float64(); {
	case x < 0.05:
		n = 0
	case x < 0.55:
		n = 10 + r.IntN(90)
	case x < 0.9:
		n = 100 + r.IntN(180)
	case x < 0.99:
		n = 280 + r.IntN(420)
	default:
		n = 800 + r.IntN(1600)
	}
	for len(b) < n {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		// Plain words mostly; the special ones (escapes, emoji) now and then.
		w := words[r.IntN(len(words))]
		if r.Float64() < 0.3 {
			w = words[r.IntN(60)]
		}
		b = append(b, w...)
	}
	return b
}

func genPeople(r *rand.Rand, ds *dataset, pi int, p float64, maxN int) ([]string, byte) {
	if r.Float64() >= p {
		switch x := r.Float64(); {
		case x < 0.6:
			return nil, 'e'
		case x < 0.95:
			return nil, 'o'
		default:
			return nil, 'n'
		}
	}
	k := 1 + r.IntN(maxN)
	out := make([]string, 0, k)
	for j := 0; j < k; j++ {
		if pi < 0 || r.Float64() < 0.05 {
			out = append(out, "u"+strconv.Itoa(1+r.IntN(2_000_000)))
			continue
		}
		ids := ds.byProduct[pi]
		out = append(out, ds.accounts[ids[r.IntN(len(ids))]].id)
	}
	return out, 'a'
}

func appendItem(b []byte, it *item) []byte {
	type field struct {
		name string
		emit func([]byte) []byte
	}
	str := func(v string) func([]byte) []byte {
		return func(b []byte) []byte { return appendJSONString(b, v) }
	}
	fields := []field{
		{"id", str(it.id)},
		{"product", str(it.product)},
		{"author_id", str(it.author)},
		{"kind", str(it.kind)},
		{"visibility", str(it.visibility)},
		{"created_at", str(it.created)},
		{"text", str(it.text)},
		{"mentions", func(b []byte) []byte { return appendList(b, it.mentions, it.mentionsForm) }},
		{"tags", func(b []byte) []byte { return appendList(b, it.tags, it.tagsForm) }},
		{"lang", str(it.lang)},
		{"edited", func(b []byte) []byte {
			if it.edited == 't' {
				return append(b, "true"...)
			}
			return append(b, "false"...)
		}},
	}
	omit := func(f field) bool {
		switch f.name {
		case "id":
			return it.id == "-"
		case "product":
			return it.product == "-"
		case "author_id":
			return it.author == "-"
		case "kind":
			return !it.hasKind
		case "visibility":
			return !it.hasVisibility
		case "mentions":
			return it.mentionsForm == 'o'
		case "tags":
			return it.tagsForm == 'o'
		case "lang":
			return it.lang == "-"
		case "edited":
			return it.edited == 0
		}
		return false
	}
	if it.shuffled {
		// Same fields, another order: extras first, id last.
		fields = append(fields[9:], append(fields[5:9], fields[:5]...)...)
	}
	b = append(b, '{')
	first := true
	for _, f := range fields {
		if omit(f) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = f.emit(b)
	}
	return append(b, "}\n"...)
}

func appendList(b []byte, ids []string, form byte) []byte {
	if form == 'n' {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (UTF-8 kept as is).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func toRow(it *item) pqRow {
	row := pqRow{
		ID:        it.id,
		Product:   it.product,
		AuthorID:  it.author,
		CreatedAt: it.created,
		Text:      it.text,
		Lang:      it.lang,
	}
	for _, p := range []*string{&row.ID, &row.Product, &row.AuthorID, &row.Lang} {
		if *p == "-" {
			*p = ""
		}
	}
	if it.hasKind {
		row.Kind = it.kind
	}
	if it.hasVisibility {
		row.Visibility = it.visibility
	}
	if it.mentionsForm == 'a' || it.mentionsForm == 'e' {
		row.Mentions = append([]string{}, it.mentions...)
	}
	if it.tagsForm == 'a' || it.tagsForm == 'e' {
		row.Tags = append([]string{}, it.tags...)
	}
	if it.edited != 0 {
		v := it.edited == 't'
		row.Edited = &v
	}
	return row
}
