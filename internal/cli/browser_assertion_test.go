package cli_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testPlatform writes a JWKS file and signs assertions with its key.
func testPlatform(t *testing.T, dir string) (jwks string, sign func(sub, jti string) string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "2026-03", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	jwks = writeFile(t, filepath.Join(dir, "jwks.json"), string(b))
	return jwks, func(sub, jti string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "2026-03"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: "https://platform.example", Audience: jwt.Audience{"notrain"}, Subject: sub,
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: jti}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

// A person signed in to the platform follows its link, sees their linked
// accounts, clicks the one button and sees the confirmation: no e-mail,
// no code, no JavaScript.
func TestBrowserOneClickObjection(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	jwks, sign := testPlatform(t, dir)
	base := server(t, nil, "--demo", "--db", filepath.Join(dir, "n.db"),
		"--platform-jwks", jwks, "--platform-issuer", "https://platform.example", "--platform-audience", "notrain")
	tok := sign("facebook:u1001", "click-1")
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/?lang=de&assertion="+tok), chromedp.WaitVisible(chromedp.ID("confirm")))
	if h1 := text(t, ctx, "h1"); h1 != "Widerspruch bestätigen" {
		t.Fatalf("h1 = %q", h1)
	}
	accounts := text(t, ctx, "#accounts")
	for _, want := range []string{"Facebook · u1001", "Instagram · ig-2001", "Threads · th-3001"} {
		if !strings.Contains(accounts, want) {
			t.Errorf("confirm page lacks %q: %q", want, accounts)
		}
	}
	labelled(t, ctx, "confirm page")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('main button').length`)); err != nil || n != 1 {
		t.Fatalf("%d buttons (%v), want one", n, err)
	}
	// The languages are buttons here (a link would carry the token): Greek,
	// then German again, with scripts off; the assertion stays unused.
	do(t, ctx, chromedp.Click(chromedp.CSS(`.langs button[value="el"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="el"] #confirm`)))
	if h1 := text(t, ctx, "h1"); h1 != "Επιβεβαιώστε την εναντίωσή σας" {
		t.Fatalf("in Greek, h1 = %q", h1)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`.langs button[value="de"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #confirm`)))
	// As written: the skip link's "#main" resolves to the page's own URL,
	// which the browser does not request again.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.links].filter(a => (a.getAttribute('href') || '').includes('assertion')).length`)); err != nil || n != 0 {
		t.Fatalf("%d links carry the assertion (%v)", n, err)
	}
	do(t, ctx, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("reference")))
	ref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1")
	if !refRE.MatchString(ref) || !strings.HasPrefix(ref, "NT-") || h1 != "Ihr Widerspruch ist wirksam" {
		t.Fatalf("confirmation: h1 %q, reference %q", h1, ref)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, tok) || !strings.HasSuffix(loc, "/done") {
		t.Fatalf("done page at %q", loc)
	}

	// The same link again: used up, and the way to the e-mail form.
	do(t, ctx, chromedp.Navigate(base+"/?lang=de&assertion="+tok), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
	if msg := text(t, ctx, "[role=alert]"); !strings.Contains(msg, "bereits verwendet") {
		t.Fatalf("replayed link: %q", msg)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`main a[href="/"]`)), chromedp.WaitVisible(chromedp.ID("email")))
}

func TestServePlatformFlags(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	jwks, _ := testPlatform(t, dir)
	empty := writeFile(t, filepath.Join(dir, "empty.json"), `{"keys":[]}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--platform-jwks", jwks}, "--platform-issuer and --platform-audience"},
		{[]string{"--platform-jwks", jwks, "--platform-issuer", "https://platform.example"}, "--platform-audience"},
		{[]string{"--platform-issuer", "https://platform.example", "--platform-audience", "notrain"}, "need --platform-jwks"},
		{[]string{"--platform-jwks", filepath.Join(dir, "missing.json"), "--platform-issuer", "i", "--platform-audience", "a"}, "missing.json"},
		{[]string{"--platform-jwks", empty, "--platform-issuer", "i", "--platform-audience", "a"}, "no usable"},
		{[]string{"--platform-jwks", "http://platform.example/jwks", "--platform-issuer", "i", "--platform-audience", "a"}, "https"},
	} {
		args := append([]string{"serve", "--init", "--db", db, "--addr", "127.0.0.1:0", "--metrics-addr", "off"}, tt.args...)
		code, _, stderr := run(t, dir, nil, args...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", tt.args, code, stderr, tt.want)
		}
	}
}
