package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/testutil/dkimtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// recordLine is what "dkim record" prints: NAME. IN TXT "…" "…".
var recordLine = regexp.MustCompile(`^([a-z0-9._-]+)\. IN TXT ((?:"[^"]*" ?)+)$`)

// parseRecord returns the DNS name and the TXT text a resolver would hand
// a verifier: the record's strings joined.
func parseRecord(t *testing.T, line string) (string, string) {
	t.Helper()
	m := recordLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		t.Fatalf("record %q", line)
	}
	var txt string
	for _, s := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
		if len(s[1]) > 255 {
			t.Fatalf("a string of %d bytes in %q", len(s[1]), line)
		}
		txt += s[1]
	}
	return m[1], txt
}

func TestDKIMKeygenAndRecord(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{"rsa", "ed25519"} {
		key := filepath.Join(dir, typ+".pem")
		if code, _, stderr := run(t, dir, nil, "dkim", "keygen", "--out", key, "--type", typ); code != 0 {
			t.Fatalf("keygen %s: %d %s", typ, code, stderr)
		}
		st, err := os.Stat(key)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", key, st.Mode(), err)
		}
		before, _ := os.ReadFile(key)
		if code, _, stderr := run(t, dir, nil, "dkim", "keygen", "--out", key, "--type", typ); code == 0 || !strings.Contains(stderr, "exists") {
			t.Fatalf("keygen over an existing file: %d %s", code, stderr)
		}
		if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
			t.Fatal("the refused keygen changed the key file")
		}
		code, out, stderr := run(t, dir, nil, "dkim", "record", "--dkim-key", key, "--dkim-selector", "s1", "--domain", "Datenschutz.Example")
		if code != 0 {
			t.Fatalf("record: %d %s", code, stderr)
		}
		name, txt := parseRecord(t, out)
		if name != "s1._domainkey.datenschutz.example" || !strings.HasPrefix(txt, "v=DKIM1; k="+typ+"; p=") {
			t.Fatalf("record %q", out)
		}
		if typ == "rsa" && strings.Count(out, `"`) < 4 {
			t.Fatalf("an RSA-2048 record in one string: %s", out)
		}
	}
	for _, args := range [][]string{
		{"dkim", "keygen"},
		{"dkim", "keygen", "--out", filepath.Join(dir, "x.pem"), "--type", "dsa"},
		{"dkim", "record", "--dkim-key", filepath.Join(dir, "rsa.pem"), "--domain", "example.org"},
		{"dkim", "record", "--dkim-key", filepath.Join(dir, "rsa.pem"), "--dkim-selector", "a_b", "--domain", "example.org"},
		{"dkim", "record", "--dkim-key", filepath.Join(dir, "rsa.pem"), "--dkim-selector", "s"},
		{"dkim", "record", "--dkim-key", filepath.Join(dir, "rsa.pem"), "--dkim-selector", "s", "--domain", "not a domain"},
	} {
		if code, _, stderr := run(t, dir, nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage): %s", args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pem")); err == nil {
		t.Error("keygen with a bad type left a file")
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	return writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}

// A bad signing setting stops serve before it opens or creates a store.
func TestServeRefusesBadDKIMSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	good := filepath.Join(dir, "good.pem")
	if code, _, stderr := run(t, dir, nil, "dkim", "keygen", "--out", good); code != 0 {
		t.Fatal(stderr)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallFile := writePEM(t, filepath.Join(dir, "small.pem"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecFile := writePEM(t, filepath.Join(dir, "ec.pem"), "PRIVATE KEY", ecDER)
	notKey := writeFile(t, filepath.Join(dir, "cert.txt"), "hello\n")
	keyText, _ := os.ReadFile(good)
	smtp := smtptest.Start(t)
	base := []string{"serve", "--init", "--db", db, "--addr", "127.0.0.1:0", "--mail", smtp.URL(), "--mail-from", "privacy@notrain.test"}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dkim-key", filepath.Join(dir, "missing.pem"), "--dkim-selector", "s"}, nil, "no such file"},
		{[]string{"--dkim-key", smallFile, "--dkim-selector", "s"}, nil, "1024 bits"},
		{[]string{"--dkim-key", ecFile, "--dkim-selector", "s"}, nil, "RSA or Ed25519"},
		{[]string{"--dkim-key", notKey, "--dkim-selector", "s"}, nil, "no PEM block"},
		{[]string{"--dkim-key", good}, nil, "--dkim-selector for each --dkim-key"},
		{[]string{"--dkim-selector", "s"}, nil, "--dkim-selector for each --dkim-key"},
		{[]string{"--dkim-key", good, "--dkim-selector", "s;x"}, nil, "--dkim-selector"},
		{[]string{"--dkim-key", good, "--dkim-selector", "s", "--dkim-key", good, "--dkim-selector", "s"}, nil, "given twice"},
		{nil, map[string]string{"NOTRAIN_DKIM_KEY": string(keyText), "NOTRAIN_DKIM_SELECTOR": "s"}, "not the key"},
		{[]string{"--dkim-key", good, "--dkim-selector", "s", "--mail-from", "x@localhost"}, nil, "not a domain"},
	} {
		code, _, stderr := run(t, dir, tt.env, append(base, tt.args...)...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q (want %q)", tt.args, code, stderr, tt.want)
		}
		if strings.Contains(stderr, "BEGIN PRIVATE KEY") || strings.Contains(stderr, string(keyText[30:60])) {
			t.Errorf("%v: the error shows the key: %s", tt.args, stderr)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%v: a store was created", tt.args)
		}
	}
}

// serve signs what it sends: the mail received by the SMTP server verifies
// against the record "dkim record" prints, with both verifiers, and its
// Message-ID, From and envelope sender are on the From address's domain,
// an internationalised one in its ASCII form, as the signature's d=.
func TestServeSignsMail(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	records := dkimtest.Records{}
	var args []string
	for typ, sel := range map[string]string{"rsa": "rsa1", "ed25519": "ed1"} {
		key := filepath.Join(dir, typ+".pem")
		if code, _, stderr := run(t, dir, nil, "dkim", "keygen", "--out", key, "--type", typ); code != 0 {
			t.Fatal(stderr)
		}
		code, out, stderr := run(t, dir, nil, "dkim", "record", "--dkim-key", key, "--dkim-selector", sel, "--domain", "datenschütz.example")
		if code != 0 {
			t.Fatal(stderr)
		}
		name, txt := parseRecord(t, out)
		records[name] = txt
		args = append(args, "--dkim-key", key, "--dkim-selector", sel)
	}
	smtp := smtptest.Start(t)
	base, banner := serverOut(t, map[string]string{"NOTRAIN_MAIL": smtp.URL()}, append(args, "--db", db, "--mail-from", "Datenschutz <privacy@Datenschütz.example>")...)
	if !strings.Contains(banner.String(), "dkim:   signing as d=xn--datenschtz-heb.example, s=") {
		t.Fatalf("banner:\n%s", banner.String())
	}
	if status, _ := postJSON(t, base+"/api/v1/objections", map[string]any{"email": "ben@example.com", "scope": "all", "lang": "de"}); status != http.StatusAccepted {
		t.Fatal(status)
	}
	got := smtp.WaitFor(t, 10*time.Second, smtptest.To("ben@example.com"))
	if id := got.Header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@xn--datenschtz-heb\.example>$`).MatchString(id) {
		t.Fatalf("Message-ID %q", id)
	}
	if from := got.Header.Get("From"); got.From != "privacy@xn--datenschtz-heb.example" || from != `"Datenschutz" <privacy@xn--datenschtz-heb.example>` {
		t.Fatalf("envelope sender %q, From %q", got.From, from)
	}
	errs := dkimtest.Verify(t, got.Raw, records)
	if len(errs) != 2 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("go-msgauth: %v", errs)
	}
	if ok := dkimtest.VerifyPy(t, got.Raw, records); len(ok) != 2 || !ok[0] || !ok[1] {
		t.Fatalf("dkimpy: %v", ok)
	}
}
