package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// Who an objection covers: the accounts of the address or named, every
// account of their link groups, narrowed to the products in scope; named
// accounts the directory lacks still count, as bare keys.
func TestCovered(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := fixture.New(t, fixture.Options{DSN: dsn})
		f.Import(t, fixture.Accounts)
		all := func(string) bool { return true }
		onlyInstagram := func(p string) bool { return p == "instagram" }
		anna := f.Keys.EmailHash("anna@example.de")
		for _, tc := range []struct {
			name    string
			email   string
			named   []store.AccountKey
			inScope func(string) bool
			want    string
		}{
			{"address and its link group", anna, nil, all, "facebook/u1 instagram/ig1 threads/th1"},
			{"narrowed to a product", anna, nil, onlyInstagram, "instagram/ig1"},
			{"named account and its group", "", []store.AccountKey{{Product: "instagram", AccountID: "ig2"}}, all, "facebook/u2 instagram/ig2"},
			{"named account not in the directory", "", []store.AccountKey{{Product: "threads", AccountID: "gone"}}, all, "threads/gone"},
			{"account without a group", f.Keys.EmailHash("carl@example.net"), nil, all, "facebook/u3"},
			{"address nobody uses", f.Keys.EmailHash("nobody@example.de"), nil, all, ""},
		} {
			var got []store.Account
			err := f.DB.Write(context.Background(), func(ctx context.Context, tx *store.Tx) error {
				var err error
				got, err = account.Covered(ctx, tx, tc.email, tc.named, tc.inScope)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, a := range got {
				keys = append(keys, a.Product+"/"+a.AccountID)
			}
			if s := strings.Join(keys, " "); s != tc.want {
				t.Errorf("%s: covers %q, want %q", tc.name, s, tc.want)
			}
		}
	})
}
