package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

func TestModelsTokensAndObjectionsOf(t *testing.T) { dbtest.Each(t, testModelsTokensAndObjectionsOf) }

func testModelsTokensAndObjectionsOf(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := register(t, db, "snap_a", t0, []store.AccountItems{{Product: "facebook", AccountID: "u1", Items: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := register(t, db, "snap_b", t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	m := store.Model{ID: "mdl_1", Name: "lm", Snapshots: []string{"snap_a", "snap_b"}, TrainedAt: t0, RegisteredAt: t0.Add(2 * time.Hour)}
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		missing, err := tx.MissingSnapshots(ctx, []string{"snap_a", "snap_x"})
		if err != nil || len(missing) != 1 || missing[0] != "snap_x" {
			t.Errorf("missing: %v %v", missing, err)
		}
		_, err = tx.RegisterModel(ctx, m, ledger.ModelRegistered{Model: m.ID, Name: m.Name, Snapshots: m.Snapshots})
		if err != nil {
			return err
		}
		if err := tx.InsertAPIToken(ctx, store.APIToken{Hash: "h1", Scope: "models", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.InsertAccessToken(ctx, store.AccessToken{Hash: "h2", EmailHash: "e", RequestID: "r", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
			return err
		}
		return tx.InsertObjection(ctx, store.Objection{ID: "NT-1", Scope: "all", Channel: "letter", Status: store.StatusAccepted,
			ReceivedAt: t0, EffectiveAt: t0, Accounts: []store.AccountKey{{Product: "facebook", AccountID: "u1"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.ModelsOnSnapshots(ctx, []string{"snap_b", "snap_a"})
	if err != nil || len(ms) != 1 || ms[0].ID != "mdl_1" || len(ms[0].Snapshots) != 2 || !ms[0].TrainedAt.Equal(t0) || ms[0].LedgerSeq == 0 {
		t.Fatalf("models: %+v %v", ms, err)
	}
	if tok, err := db.APITokenByHash(ctx, "h1"); err != nil || tok.Scope != "models" || !tok.RevokedAt.IsZero() {
		t.Fatalf("api token: %+v %v", tok, err)
	}
	if _, err := db.APITokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if tok, err := db.AccessTokenByHash(ctx, "h2"); err != nil || tok.EmailHash != "e" || !tok.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("access token: %+v %v", tok, err)
	}
	objs, err := db.ObjectionsOf(ctx, "", []store.AccountKey{{Product: "facebook", AccountID: "u1"}, {Product: "facebook", AccountID: "u1"}})
	if err != nil || len(objs) != 1 || objs[0].ID != "NT-1" {
		t.Fatalf("objections of: %+v %v", objs, err)
	}
	if objs, _ := db.ObjectionsOf(ctx, "other", nil); len(objs) != 0 {
		t.Fatalf("another person's: %+v", objs)
	}
	// Expired access tokens are forgotten.
	if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.Forget(ctx, t0.Add(2*time.Minute), t0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AccessTokenByHash(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired access token kept: %v", err)
	}
	// A model registration does not make eligibility stale.
	head, err := db.LedgerHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RegisterModel(ctx, store.Model{ID: "mdl_2", Name: "x", Snapshots: []string{"snap_a"}, RegisteredAt: t0.Add(3 * time.Hour)},
			ledger.ModelRegistered{Model: "mdl_2", Name: "x", Snapshots: []string{"snap_a"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if changed, err := db.ChangedSince(ctx, head); err != nil || changed {
		t.Fatalf("changed since a model registration: %v %v", changed, err)
	}
}
