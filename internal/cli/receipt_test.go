package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// apiJSON posts body to the portal's API and decodes the answer.
func apiJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %s %v %v", url, resp.Status, out, err)
	}
	return out
}

// An objection's receipt from the API verifies offline with --key and,
// with --log, against the portal's tiles after the log grew past a full
// tile; any flipped byte is refused.
func TestReceiptVerify(t *testing.T) {
	ctx := context.Background()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, web.Config{Now: f.Clock.Now, Log: fixture.Quiet(), Composer: f.Composer, LogKey: f.LogKey, Keys: f.Keys})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	st := apiJSON(t, hs.URL+"/api/v1/objections", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	rid := st["request_id"].(string)
	out := apiJSON(t, hs.URL+"/api/v1/objections/verify", `{"request_id":"`+rid+`","code":"`+f.CodeFor(t, rid)+`"}`)
	rc, _ := out["receipt"].(string)
	ref := out["reference"].(string)
	if !strings.HasPrefix(rc, "c2sp.org/tlog-proof@v1\n") {
		t.Fatalf("verify answered %v", out)
	}
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, ref+".tlog-proof"), rc)
	keyFile := writeFile(t, filepath.Join(dir, "log.pub"), f.LogKey.VerifierKey()+"\n")

	for _, key := range []string{f.LogKey.VerifierKey(), keyFile} {
		code, stdout, stderr := run(t, dir, nil, "receipt", "verify", file, "--key", key)
		if code != 0 || !strings.Contains(stdout, ref) || !strings.Contains(stdout, ledger.KindObjectionAccepted) || !strings.Contains(stdout, "checkpoint:") {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
	}

	// The log grows past a full tile; the old receipt's checkpoint is
	// proven to be a prefix of the current one, read from the tiles.
	for i := range 300 {
		if err := f.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Append(ctx, time.Unix(1_800_000_000+int64(i), 0), ledger.KindObjectionAccepted, ledger.ObjectionAccepted{Reference: "NT-GROW", Accounts: []string{}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := run(t, dir, nil, "receipt", "verify", file, "--log", hs.URL)
	if code != 0 || !strings.Contains(stdout, "only grew") || !strings.Contains(stdout, "fetched from the operator") {
		t.Fatalf("--log: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := run(t, dir, nil, "receipt", "verify", file, "--log", hs.URL, "--key", keyFile); code != 0 || strings.Contains(stdout, "fetched") {
		t.Fatalf("--log with --key: exit %d\n%s", code, stdout)
	}

	b := []byte(rc)
	for i := 0; i < len(b); i += 7 {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		os.WriteFile(file, bad, 0o644)
		if code, stdout, stderr := run(t, dir, nil, "receipt", "verify", file, "--key", keyFile); code == 0 || stdout != "" || stderr == "" {
			t.Fatalf("byte %d flipped: exit %d\n%s%s", i, code, stdout, stderr)
		}
	}
	if code, _, _ := run(t, dir, nil, "receipt", "verify", file); code == 0 {
		t.Fatal("verify without --key or --log succeeded")
	}
}
