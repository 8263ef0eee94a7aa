// Package dkimtest checks DKIM signatures for tests, with two verifiers
// written apart from each other: go-msgauth's, and dkimpy (Python, as
// Debian packages it: python3-dkim), run as a separate process. Both look
// keys up in the records a test gives instead of in DNS.
package dkimtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// Records are DKIM key records by DNS name: "SELECTOR._domainkey.DOMAIN"
// (no final dot) → "v=DKIM1; k=…; p=…".
type Records map[string]string

// Verify checks every signature of msg with go-msgauth and returns one
// error per signature, in order (nil: verified).
func Verify(t testing.TB, msg []byte, records Records) []error {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if r, ok := records[name]; ok {
				return []string{r}, nil
			}
			t.Errorf("DKIM key looked up under an unexpected name %q", name)
			return nil, errors.New("no such record")
		},
	})
	if err != nil {
		t.Fatalf("go-msgauth: %v", err)
	}
	errs := make([]error, len(vs))
	for i, v := range vs {
		errs[i] = v.Err
	}
	return errs
}

// python is Debian's interpreter, the one python3-dkim installs into.
const python = "/usr/bin/python3"

// dkimpyScript verifies each DKIM-Signature of the message in argv[1]
// with the keys in the JSON file argv[2], and prints one JSON boolean per
// signature.
const dkimpyScript = `
import json, sys
import dkim
msg = open(sys.argv[1], "rb").read()
records = json.load(open(sys.argv[2]))
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    r = records.get(n.rstrip("."))
    if r is None:
        sys.stderr.write("unexpected DNS query %s\n" % n)
        return None
    return r.encode()
d = dkim.DKIM(msg)
n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
out = []
for i in range(n):
    try:
        out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
    except dkim.DKIMException as e:
        sys.stderr.write("signature %d: %s\n" % (i, e))
        out.append(False)
print(json.dumps(out))
`

var dkimpyMissing = sync.OnceValue(func() error {
	return exec.Command(python, "-c", "import dkim, nacl").Run()
})

// VerifyPy checks every signature of msg with dkimpy and returns whether
// each verified, in order. Without dkimpy (or PyNaCl, its Ed25519 half)
// the test is skipped, unless NOTRAIN_REQUIRE_DKIMPY=1 makes that a
// failure (CI, where .ci/setup installs it).
func VerifyPy(t testing.TB, msg []byte, records Records) []bool {
	t.Helper()
	if err := dkimpyMissing(); err != nil {
		if os.Getenv("NOTRAIN_REQUIRE_DKIMPY") == "1" {
			t.Fatalf("dkimpy is required (NOTRAIN_REQUIRE_DKIMPY=1) but %s cannot import dkim and nacl: %v (apt-get install python3-dkim python3-nacl)", python, err)
		}
		t.Skipf("dkimpy not installed (%s -c 'import dkim, nacl': %v): apt-get install python3-dkim python3-nacl, or see .ci/setup", python, err)
	}
	dir := t.TempDir()
	msgFile, keysFile, script := filepath.Join(dir, "msg.eml"), filepath.Join(dir, "keys.json"), filepath.Join(dir, "verify.py")
	keys, _ := json.Marshal(records)
	for name, b := range map[string][]byte{msgFile: msg, keysFile: keys, script: []byte(dkimpyScript)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(python, script, msgFile, keysFile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.String())
	}
	var ok []bool
	if err := json.Unmarshal(stdout.Bytes(), &ok); err != nil {
		t.Fatalf("dkimpy printed %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("dkimpy: %s", stderr.String())
	}
	return ok
}
