package tlogclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/tlogclient"
	"github.com/notrain/notrain/internal/translog"
	"github.com/notrain/notrain/internal/web"
)

// The client reads the portal's real log over HTTP: every inclusion and
// consistency proof built from its tiles verifies against the signed
// checkpoint, and a server that changes one byte of a tile, or signs with
// another key, is caught.
func TestClientAgainstThePortal(t *testing.T) {
	ctx := context.Background()
	f := fixture.New(t, fixture.Options{})
	for i := range 600 {
		if err := f.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Append(ctx, time.Unix(1_800_000_000+int64(i), 0), ledger.KindObjectionAccepted, ledger.ObjectionAccepted{Reference: "NT-C", Accounts: []string{}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, web.Config{Now: f.Clock.Now, Log: fixture.Quiet(), Composer: f.Composer, LogKey: f.LogKey, Keys: f.Keys})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c := tlogclient.NewClient(hs.URL+"/log", nil)
	v, vkey, err := c.VerifierKey(ctx)
	if err != nil || vkey != f.LogKey.VerifierKey() {
		t.Fatalf("key %q, %v", vkey, err)
	}
	cp, err := c.Checkpoint(ctx, v)
	if err != nil || cp.Size < 600 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	hr := c.HashReader(ctx, cp)
	entries, err := f.DB.LogEntries(ctx, 0, int(cp.Size))
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < cp.Size; i += 37 {
		p, err := tlog.ProveRecord(cp.Size, i, hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, cp.Size, cp.Root, i, tlog.RecordHash(entries[i])); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
	}
	for _, m := range []int64{1, 255, 256, 257, 513} {
		p, err := tlog.ProveTree(cp.Size, m, hr)
		if err != nil {
			t.Fatal(err)
		}
		old, err := tlog.TreeHash(m, hr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, cp.Size, cp.Root, m, old); err != nil {
			t.Fatalf("consistency %d→%d: %v", m, cp.Size, err)
		}
	}

	// A mirror that changes one byte of every hash tile.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if strings.HasPrefix(r.URL.Path, "/log/tile/") && !strings.Contains(r.URL.Path, "entries") && len(b) > 0 {
			b[len(b)/2] ^= 1
		}
		w.WriteHeader(rec.Code)
		w.Write(b)
	}))
	defer evil.Close()
	ec := tlogclient.NewClient(evil.URL+"/log", nil)
	ecp, err := ec.Checkpoint(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.ProveTree(ecp.Size, 300, ec.HashReader(ctx, ecp)); err == nil {
		t.Fatal("a changed tile was used")
	}
	other, _, _ := translog.LoadKey(t.TempDir()+"/o.key", "notrain.test/notrain", true)
	if _, err := c.Checkpoint(ctx, other.Verifier()); err == nil {
		t.Fatal("a checkpoint verified under another key")
	}
	if _, err := tlogclient.NewClient(hs.URL+"/nolog", nil).Checkpoint(ctx, v); err == nil {
		t.Fatal("a 404 was read as a checkpoint")
	}
}
