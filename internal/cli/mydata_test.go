package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// snapshotID reads the snapshot id of the last filter run's manifest.
func snapshotID(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		SnapshotID string `json:"snapshot_id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.SnapshotID == "" {
		t.Fatalf("manifest: %s", b)
	}
	return m.SnapshotID
}

// request sends a JSON body (or none) with an optional bearer token and
// returns status and raw body.
func request(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	tokenRE = regexp.MustCompile(`ntp_[0-9a-f]+`)
	stampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+Z`)
	idRE    = regexp.MustCompile(`[0-9a-f]{32}`)
)

// accessToken runs the access flow over the API, reading the code from the
// dev mailbox, and returns the token and both answers, normalised.
func accessToken(t *testing.T, base, addr string, before int) (string, string) {
	t.Helper()
	code, start := request(t, http.MethodPost, base+"/api/v1/access", "", `{"email":"`+addr+`","lang":"en"}`)
	if code != http.StatusAccepted {
		t.Fatalf("access %s: %d %s", addr, code, start)
	}
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(start), &st)
	otp := devCodeAfter(t, base, addr, before)
	code, ver := request(t, http.MethodPost, base+"/api/v1/access/verify", "", `{"request_id":"`+st.RequestID+`","code":"`+otp+`"}`)
	if code != http.StatusOK {
		t.Fatalf("access verify %s: %d %s", addr, code, ver)
	}
	var v struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(ver), &v); err != nil || v.Token == "" || v.ExpiresAt == "" {
		t.Fatalf("verify answer: %s", ver)
	}
	norm := func(s string) string {
		return stampRE.ReplaceAllString(idRE.ReplaceAllString(tokenRE.ReplaceAllString(s, "<tok>"), "<id>"), "<t>")
	}
	return v.Token, norm(start) + norm(ver)
}

// devCodeAfter waits for the code mail to addr beyond the first before ones.
func devCodeAfter(t *testing.T, base, addr string, before int) string {
	t.Helper()
	re := regexp.MustCompile(`\b(\d{6})\b`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/dev/mail.json")
		if err != nil {
			t.Fatal(err)
		}
		var mails []struct{ To, Kind, Text string }
		json.NewDecoder(resp.Body).Decode(&mails)
		resp.Body.Close()
		var codes []string
		for _, m := range mails {
			if strings.EqualFold(m.To, addr) && m.Kind == "code" {
				codes = append(codes, re.FindStringSubmatch(m.Text)[1])
			}
		}
		if len(codes) > before {
			return codes[0] // newest first
		}
	}
	t.Fatalf("no new code for %s", addr)
	return ""
}

type meAnswer struct {
	Accounts []struct {
		Product   string `json:"product"`
		AccountID string `json:"account_id"`
	} `json:"accounts"`
	Objections []struct {
		Reference   string  `json:"reference"`
		Status      string  `json:"status"`
		Scope       string  `json:"scope"`
		EffectiveAt *string `json:"effective_at"`
		WithdrawnAt *string `json:"withdrawn_at"`
		Receipt     *string `json:"receipt"`
	} `json:"objections"`
	Snapshots []struct {
		SnapshotID       string           `json:"snapshot_id"`
		AsOf             string           `json:"as_of"`
		Items            map[string]int64 `json:"items"`
		ObjectionInForce bool             `json:"objection_in_force"`
	} `json:"snapshots"`
	Models []struct {
		Name      string   `json:"name"`
		Snapshots []string `json:"snapshots"`
		TrainedAt *string  `json:"trained_at"`
	} `json:"models"`
}

func me(t *testing.T, base, token string) (meAnswer, string) {
	t.Helper()
	code, body := request(t, http.MethodGet, base+"/api/v1/me", token, "")
	if code != http.StatusOK {
		t.Fatalf("me: %d %s", code, body)
	}
	var a meAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	return a, body
}

// "My data" end to end with real snapshots built by the filter: the one
// built before anna objected lists her items with objection_in_force
// false, the one after lists none; a model registered on the first shows
// up; ben's token sees none of hers; an unknown address gets the same
// answers, with empty lists.
func TestMyDataWithRealSnapshots(t *testing.T) {
	dir, db := filterEnv(t)
	if code, out, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatalf("filter: %d %s %s", code, out, stderr)
	}
	before := snapshotID(t, dir)
	base := server(t, nil, "--db", db)
	code, body := postJSON(t, base+"/api/v1/objections", map[string]string{"email": "anna@example.de", "lang": "en"})
	if code != http.StatusAccepted {
		t.Fatalf("objection: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/api/v1/objections/verify", map[string]string{"request_id": body["request_id"].(string), "code": devCode(t, base, "anna@example.de")})
	if code != http.StatusOK {
		t.Fatalf("objection verify: %d %v", code, body)
	}
	ref := body["reference"].(string)
	time.Sleep(5 * time.Millisecond) // the next snapshot is as of a later moment
	if code, out, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatalf("filter after the objection: %d %s %s", code, out, stderr)
	}
	after := snapshotID(t, dir)

	// A model on the first snapshot, by the command line; one on the
	// second, by the API with a machine token.
	code2, mid, stderr := run(t, dir, nil, "models", "register", "--db", db, "--name", "lm-1", "--snapshot", before, "--trained-at", "2026-01-02T03:04:05Z")
	if code2 != 0 || !strings.HasPrefix(strings.TrimSpace(mid), "mdl_") {
		t.Fatalf("models register: %d %q %s", code2, mid, stderr)
	}
	code2, tok, stderr := run(t, dir, nil, "tokens", "create", "--db", db, "--scope", "models", "--name", "trainer")
	tok = strings.TrimSpace(tok)
	if code2 != 0 || !strings.HasPrefix(tok, "ntk_") || strings.Contains(tok, "\n") {
		t.Fatalf("tokens create: %d %q %s", code2, tok, stderr)
	}
	if c, b := request(t, http.MethodPost, base+"/api/v1/models", tok, `{"name":"lm-2","snapshots":["`+after+`"]}`); c != http.StatusCreated {
		t.Fatalf("POST models: %d %s", c, b)
	}

	annaTok, annaShape := accessToken(t, base, "anna@example.de", 1)
	a, _ := me(t, base, annaTok)
	if len(a.Accounts) != 3 || len(a.Objections) != 1 || a.Objections[0].Reference != ref || a.Objections[0].Status != "accepted" ||
		a.Objections[0].EffectiveAt == nil || a.Objections[0].WithdrawnAt != nil || a.Objections[0].Receipt == nil {
		t.Fatalf("anna's accounts or objections: %+v", a)
	}
	if len(a.Snapshots) != 1 || a.Snapshots[0].SnapshotID != before || a.Snapshots[0].ObjectionInForce ||
		a.Snapshots[0].Items["facebook:u1"] != 1 || a.Snapshots[0].Items["instagram:ig1"] != 1 || len(a.Snapshots[0].Items) != 2 {
		t.Fatalf("anna's snapshots (before %s, after %s): %+v", before, after, a.Snapshots)
	}
	if len(a.Models) != 1 || a.Models[0].Name != "lm-1" || a.Models[0].Snapshots[0] != before || a.Models[0].TrainedAt == nil {
		t.Fatalf("anna's models: %+v", a.Models)
	}

	benTok, benShape := accessToken(t, base, "ben@example.com", 0)
	b, benBody := me(t, base, benTok)
	if strings.Contains(benBody, ref) || strings.Contains(benBody, "u1") || strings.Contains(benBody, "ig1") || len(b.Objections) != 0 {
		t.Fatalf("ben sees anna's data: %s", benBody)
	}
	if len(b.Snapshots) != 2 || b.Snapshots[0].Items["facebook:u2"] != 2 || b.Snapshots[1].Items["facebook:u2"] != 1 {
		t.Fatalf("ben's snapshots: %s", benBody)
	}

	nobodyTok, nobodyShape := accessToken(t, base, "nobody@example.de", 0)
	_, nobodyBody := me(t, base, nobodyTok)
	if strings.TrimSpace(nobodyBody) != `{"accounts":[],"objections":[],"withdrawals":[],"snapshots":[],"models":[],"consents":[],"reports":[]}` {
		t.Fatalf("unknown address: %s", nobodyBody)
	}
	if annaShape != benShape || benShape != nobodyShape {
		t.Fatalf("access answers differ:\n%s\n%s\n%s", annaShape, benShape, nobodyShape)
	}
	// A token changed in its last digit is refused; a machine token is
	// not a person's.
	last := "0"
	if strings.HasSuffix(annaTok, "0") {
		last = "1"
	}
	for _, bad := range []string{annaTok[:len(annaTok)-1] + last, tok, ""} {
		if c, body := request(t, http.MethodGet, base+"/api/v1/me", bad, ""); c != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
			t.Fatalf("token %q: %d %s", bad, c, body)
		}
	}
}

// models register refuses unknown snapshots and writes nothing; tokens
// create prints the token alone.
func TestModelsRegisterAndTokensCreateFailClosed(t *testing.T) {
	dir, db := filterEnv(t)
	before := count(t, db, "ledger")
	code, out, stderr := run(t, dir, nil, "models", "register", "--db", db, "--name", "lm", "--snapshot", "snap_nope")
	if code == 0 || out != "" || !strings.Contains(stderr, "snap_nope") {
		t.Fatalf("unknown snapshot: %d %q %q", code, out, stderr)
	}
	code, out, stderr = run(t, dir, nil, "models", "register", "--db", db, "--name", "lm", "--snapshot", "x", "--trained-at", "monday")
	if code != 2 || out != "" {
		t.Fatalf("bad --trained-at: %d %q %q", code, out, stderr)
	}
	if count(t, db, "ledger") != before || count(t, db, "models") != 0 || count(t, db, "model_snapshots") != 0 {
		t.Fatal("a refused registration wrote something")
	}
	code, out, stderr = run(t, dir, nil, "tokens", "create", "--db", db, "--scope", "everything")
	if code != 2 || out != "" || count(t, db, "api_tokens") != 0 {
		t.Fatalf("unknown scope: %d %q %q", code, out, stderr)
	}
	code, out, _ = run(t, dir, nil, "tokens", "create", "--db", db, "--scope", "models")
	if code != 0 || !regexp.MustCompile(`^ntk_[0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("tokens create printed %q", out)
	}
	var hash string
	rawDB(t, db).QueryRow("SELECT hash FROM api_tokens").Scan(&hash)
	if hash == "" || strings.Contains(out, hash) || strings.Contains(hash, strings.TrimSpace(out)[4:]) {
		t.Fatalf("stored %q for %q", hash, out)
	}
}
