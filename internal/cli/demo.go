package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

type demoPerson struct {
	email string
	about string
}

func demoPeople() []demoPerson {
	return []demoPerson{
		{"anna@example.de", "Facebook, Instagram and Threads, linked: one objection covers all three"},
		{"ben@example.com", "Facebook; his linked Instagram uses another address and is covered too"},
		{"jörg@müller.de", "Facebook, an address with umlauts (type it in lower case; the domain also as xn--mller-kva.de)"},
		{"lena@example.de", "Instagram, born 2010: a minor"},
	}
}

// demoAccounts is the directory --demo adds, in the import format.
const demoAccounts = `{"product":"facebook","account_id":"u1001","email":"anna@example.de","birthdate":"1990-05-01","handle":"anna.schmidt","group":"g-anna"}
{"product":"instagram","account_id":"ig-2001","email":"anna@example.de","birthdate":"1990-05-01","handle":"anna.s","group":"g-anna"}
{"product":"threads","account_id":"th-3001","email":"anna@example.de","birthdate":"1990-05-01","handle":"anna.s","group":"g-anna"}
{"product":"facebook","account_id":"u1002","email":"ben@example.com","birthdate":"1985-11-30","handle":"ben.k","group":"g-ben"}
{"product":"instagram","account_id":"ig-2002","email":"ben.privat@example.org","birthdate":"1985-11-30","handle":"benk","group":"g-ben"}
{"product":"facebook","account_id":"u1003","email":"jörg@müller.de","birthdate":"1972-02-29","handle":"joerg.mueller","group":"g-joerg"}
{"product":"instagram","account_id":"ig-2004","email":"lena@example.de","birthdate":"2010-03-04","handle":"lena_04","group":"g-lena"}
`

// seedDemo adds the demo accounts unless they are all there already.
func seedDemo(ctx context.Context, db *store.DB, keys *secret.Keys, env Env) error {
	parsed, err := account.Parse(strings.NewReader(demoAccounts), keys)
	if err != nil {
		return fmt.Errorf("demo accounts: %w", err)
	}
	keysWanted := make([]store.AccountKey, len(parsed.Accounts))
	for i, a := range parsed.Accounts {
		keysWanted[i] = store.AccountKey{Product: a.Product, AccountID: a.AccountID}
	}
	have, err := db.Accounts(ctx, keysWanted)
	if err != nil {
		return err
	}
	if len(have) == len(parsed.Accounts) {
		return nil
	}
	_, err = account.Store(ctx, db, parsed, "demo", env.Now())
	return err
}
