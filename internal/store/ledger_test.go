package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// chain writes n entries into a fresh store at dsn and returns it.
func chain(t *testing.T, dsn string, n int) *store.DB {
	t.Helper()
	db := openAt(t, dsn)
	for i := range n {
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, i) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.VerifyLedger(ctx, nil); err != nil {
		t.Fatalf("fresh chain does not verify: %v", err)
	}
	return db
}

func badEntry(t *testing.T, err error) *ledger.BadEntryError {
	t.Helper()
	var bad *ledger.BadEntryError
	if !errors.As(err, &bad) {
		t.Fatalf("tampering not detected: err = %v", err)
	}
	return bad
}

// Every single-byte change to any stored column of any entry is caught,
// and the error names the changed entry.
func TestLedgerDetectsSingleByteEdits(t *testing.T) { dbtest.Each(t, testLedgerDetectsSingleByteEdits) }

func testLedgerDetectsSingleByteEdits(t *testing.T, dsn string) {
	const n = 20
	rng := rand.New(rand.NewPCG(1, 2))
	cols := []string{"at", "kind", "body", "prev_hash", "hash"}
	db := chain(t, dsn, n)
	raw := dbtest.Raw(t, dsn)
	for trial := range 60 {
		seq := 1 + rng.IntN(n)
		col := cols[trial%len(cols)]
		var old string
		if err := raw.QueryRow("SELECT CAST("+col+" AS TEXT) FROM ledger WHERE seq = $1", seq).Scan(&old); err != nil {
			t.Fatal(err)
		}
		b := []byte(old)
		i := rng.IntN(len(b))
		b[i] = flip(b[i], col)
		if _, err := raw.Exec("UPDATE ledger SET "+col+" = $1 WHERE seq = $2", typed(col, string(b)), seq); err != nil {
			t.Fatal(err)
		}
		_, err := db.VerifyLedger(ctx, nil)
		if bad := badEntry(t, err); bad.Seq != int64(seq) {
			t.Fatalf("edit of %s in entry %d reported at entry %d: %v", col, seq, bad.Seq, bad)
		}
		// Put the byte back: the chain verifies again.
		if _, err := raw.Exec("UPDATE ledger SET "+col+" = $1 WHERE seq = $2", typed(col, old), seq); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VerifyLedger(ctx, nil); err != nil {
			t.Fatalf("restored chain does not verify: %v", err)
		}
	}
}

// flip changes one byte to another byte that keeps the column's type.
func flip(c byte, col string) byte {
	switch col {
	case "at":
		return '0' + (c-'0'+1)%10
	case "prev_hash", "hash":
		if c == 'a' {
			return 'b'
		}
		return 'a'
	}
	if c == 'x' {
		return 'y'
	}
	return 'x'
}

func typed(col, v string) any {
	if col == "at" {
		var n int64
		for _, c := range v {
			n = n*10 + int64(c-'0')
		}
		return n
	}
	return v
}

func TestLedgerDetectsDeletion(t *testing.T) { dbtest.Each(t, testLedgerDetectsDeletion) }

func testLedgerDetectsDeletion(t *testing.T, dsn string) {
	for i, seq := range []int{1, 7, 20} {
		sub := filepath.Join(t.TempDir(), fmt.Sprintf("n%d.db", i))
		if dbtest.IsPostgres(dsn) {
			sub = dbtest.Postgres(t)
		}
		db := chain(t, sub, 20)
		raw := dbtest.Raw(t, sub)
		mustExec(t, raw, "DELETE FROM ledger WHERE seq = $1", seq)
		bad := badEntry(t, mustFail(db))
		if bad.Seq != int64(seq) {
			t.Fatalf("deleted entry %d reported as %d: %v", seq, bad.Seq, bad)
		}
	}
}

func TestLedgerDetectsReorder(t *testing.T) { dbtest.Each(t, testLedgerDetectsReorder) }

func testLedgerDetectsReorder(t *testing.T, dsn string) {
	db := chain(t, dsn, 20)
	raw := dbtest.Raw(t, dsn)
	// Swap the contents of entries 5 and 6, keeping their sequence numbers.
	mustExec(t, raw, "UPDATE ledger SET seq = -5 WHERE seq = 5")
	mustExec(t, raw, "UPDATE ledger SET seq = 5 WHERE seq = 6")
	mustExec(t, raw, "UPDATE ledger SET seq = 6 WHERE seq = -5")
	if bad := badEntry(t, mustFail(db)); bad.Seq != 5 {
		t.Fatalf("reorder reported at %d: %v", bad.Seq, bad)
	}
}

func TestLedgerDetectsRecomputedRewrite(t *testing.T) {
	dbtest.Each(t, testLedgerDetectsRecomputedRewrite)
}

func testLedgerDetectsRecomputedRewrite(t *testing.T, dsn string) {
	// An editor who recomputes the edited entry's hash still breaks the
	// link from the next entry.
	db := chain(t, dsn, 10)
	raw := dbtest.Raw(t, dsn)
	var e ledger.Entry
	var body string
	if err := raw.QueryRow("SELECT seq, at, kind, body, prev_hash FROM ledger WHERE seq = 4").Scan(&e.Seq, &e.At, &e.Kind, &body, &e.PrevHash); err != nil {
		t.Fatal(err)
	}
	body = strings.Replace(body, `"n":3`, `"n":33`, 1)
	h, _ := ledger.Hash(e.PrevHash, e.Seq, e.At, e.Kind, []byte(body))
	mustExec(t, raw, "UPDATE ledger SET body = $1, hash = $2 WHERE seq = 4", body, h)
	if bad := badEntry(t, mustFail(db)); bad.Seq != 5 {
		t.Fatalf("rewrite reported at %d: %v", bad.Seq, bad)
	}
}

// A cut-off tail is invisible to the chain itself; the head recorded with
// each append catches it, and when the head row is cut back too, the
// checkpoint from an earlier verification does.
func TestLedgerDetectsCutOffTail(t *testing.T) { dbtest.Each(t, testLedgerDetectsCutOffTail) }

func testLedgerDetectsCutOffTail(t *testing.T, dsn string) {
	db := chain(t, dsn, 20)
	raw := dbtest.Raw(t, dsn)
	checkpoint, err := db.VerifyLedger(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "DELETE FROM ledger WHERE seq > 15")
	if bad := badEntry(t, mustFail(db)); bad.Seq != 16 {
		t.Fatalf("cut tail reported at %d: %v", bad.Seq, bad)
	}
	var h string
	if err := raw.QueryRow("SELECT hash FROM ledger WHERE seq = 15").Scan(&h); err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "UPDATE ledger_head SET seq = 15, hash = $1", h)
	if _, err := db.VerifyLedger(ctx, nil); err != nil {
		t.Fatalf("without a checkpoint the consistent cut cannot be seen, yet: %v", err)
	}
	if bad := badEntry(t, func() error { _, err := db.VerifyLedger(ctx, &checkpoint); return err }()); bad.Seq != 20 {
		t.Fatalf("cut tail with checkpoint reported at %d: %v", bad.Seq, bad)
	}
}

func mustExec(t *testing.T, raw *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := raw.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func mustFail(db *store.DB) error {
	_, err := db.VerifyLedger(ctx, nil)
	return err
}

// Verifying from a checkpoint still catches what happened after it, and a
// checkpoint that no longer matches.
func TestLedgerVerifyFromCheckpoint(t *testing.T) { dbtest.Each(t, testLedgerVerifyFromCheckpoint) }

func testLedgerVerifyFromCheckpoint(t *testing.T, dsn string) {
	db := chain(t, dsn, 30)
	cp, err := db.VerifyLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mid := ledger.Head{Seq: 10}
	dbtest.Raw(t, dsn).QueryRow("SELECT hash FROM ledger WHERE seq = 10").Scan(&mid.Hash)
	if h, err := db.VerifyLedgerFrom(ctx, &mid); err != nil || h != cp {
		t.Fatalf("from checkpoint: %v %v", h, err)
	}
	raw := dbtest.Raw(t, dsn)
	mustExec(t, raw, `UPDATE ledger SET body = '{"n":99}' WHERE seq = 20`)
	if bad := badEntry(t, func() error { _, err := db.VerifyLedgerFrom(ctx, &mid); return err }()); bad.Seq != 20 {
		t.Fatalf("edit after the checkpoint reported at %d", bad.Seq)
	}
	wrong := ledger.Head{Seq: 10, Hash: cp.Hash}
	if bad := badEntry(t, func() error { _, err := db.VerifyLedgerFrom(ctx, &wrong); return err }()); bad.Seq != 10 {
		t.Fatalf("wrong checkpoint reported at %d", bad.Seq)
	}
}

// A tail cut off after a report was received, decided or its items
// excluded, with the head row cut back to match, is caught by the records
// that name the lost entries, with and without a checkpoint before them.
func TestLedgerCutOffAfterReportDecision(t *testing.T) {
	dbtest.Each(t, testLedgerCutOffAfterReportDecision)
}

func testLedgerCutOffAfterReportDecision(t *testing.T, dsn string) {
	at := time.Unix(1_700_100_000, 0)
	for _, c := range []struct {
		name string
		// record writes one record naming entry e, the last one.
		record func(ctx context.Context, tx *store.Tx, e int64) error
	}{
		{"reports.ledger_seq", func(ctx context.Context, tx *store.Tx, e int64) error {
			return tx.InsertReport(ctx, store.Report{ID: "NTR-CUT1", RequestID: "r1", EmailHash: "h", Lang: "en",
				Relation: "me", Channel: "web", Status: store.ReportInReview, ReceivedAt: at, LedgerSeq: e, Items: []string{"fb:1"}})
		}},
		{"reports.decision_seq", func(ctx context.Context, tx *store.Tx, e int64) error {
			if err := tx.InsertReport(ctx, store.Report{ID: "NTR-CUT2", RequestID: "r2", EmailHash: "h", Lang: "en",
				Relation: "me", Channel: "web", Status: store.ReportInReview, ReceivedAt: at, LedgerSeq: 1, Items: []string{"fb:2"}}); err != nil {
				return err
			}
			return tx.DecideReport(ctx, "NTR-CUT2", store.ReportDecision{Status: store.ReportRejected, DecidedAt: at,
				DecidedBy: "op", Note: "no", DecisionSeq: e, Final: true})
		}},
		{"item_exclusions.ledger_seq", func(ctx context.Context, tx *store.Tx, e int64) error {
			return tx.ExcludeItems(ctx, []string{"fb:3"}, "report NTR-CUT3", at, e)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := filepath.Join(t.TempDir(), "c.db")
			if dbtest.IsPostgres(dsn) {
				sub = dbtest.Postgres(t)
			}
			db := chain(t, sub, 5)
			var cp ledger.Head
			dbtest.Raw(t, sub).QueryRow("SELECT seq, hash FROM ledger WHERE seq = 3").Scan(&cp.Seq, &cp.Hash)
			if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				e, err := tx.Append(ctx, at, ledger.KindReportDecided, map[string]any{"n": "decided"})
				if err != nil {
					return err
				}
				return c.record(ctx, tx, e.Seq)
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.VerifyLedger(ctx); err != nil {
				t.Fatalf("untouched: %v", err)
			}
			raw := dbtest.Raw(t, sub)
			mustExec(t, raw, "DELETE FROM ledger WHERE seq > 5")
			mustExec(t, raw, "UPDATE ledger_head SET seq = 5, hash = (SELECT hash FROM ledger WHERE seq = 5)")
			if bad := badEntry(t, mustFail(db)); bad.Seq != 6 || !strings.Contains(bad.Error(), "cut off") {
				t.Fatalf("cut tail reported as %v", bad)
			}
			if bad := badEntry(t, func() error { _, err := db.VerifyLedgerFrom(ctx, &cp); return err }()); bad.Seq != 6 {
				t.Fatalf("cut tail from a checkpoint reported as %v", bad)
			}
		})
	}
}
