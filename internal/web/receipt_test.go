package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/web"
)

func fetchURL(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The verify answers of objections and withdrawals carry the receipt of
// the entry they recorded, a replay the same one; the confirmation's
// download serves a receipt of the same entry to whoever holds the request
// id, once the request is done, and the page's 404 otherwise.
func TestReceipts(t *testing.T) {
	e := newEnv(t, web.Config{})
	for _, c := range []struct{ flow, api, kind string }{
		{"objection", "objections", ledger.KindObjectionAccepted},
		{"withdrawal", "withdrawals", ledger.KindObjectionWithdrawn},
	} {
		e.Clock.Advance(61e9)
		_, b := postJSON(t, e.URL+"/api/v1/"+c.api, `{"email":"anna@example.de","lang":"en"}`)
		var st struct {
			RequestID string `json:"request_id"`
		}
		json.Unmarshal([]byte(b), &st)

		if resp, _ := fetchURL(t, e.URL+"/"+c.flow+"/"+st.RequestID+"/receipt"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: the receipt of a request not yet done: %s", c.flow, resp.Status)
		}
		body := `{"request_id":"` + st.RequestID + `","code":"` + e.CodeFor(t, st.RequestID) + `"}`
		resp, b1 := postJSON(t, e.URL+"/api/v1/"+c.api+"/verify", body, "Idempotency-Key", "r-"+c.flow)
		var out struct{ Reference, Receipt string }
		if err := json.Unmarshal([]byte(b1), &out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s verify: %s %s", c.flow, resp.Status, b1)
		}
		v, err := receipt.Verify([]byte(out.Receipt), e.LogKey.Verifier())
		if err != nil || v.Entry.Kind != c.kind || receipt.Reference(v.Entry) != out.Reference {
			t.Fatalf("%s: the API's receipt: %v %+v", c.flow, err, v.Entry)
		}
		if _, b2 := postJSON(t, e.URL+"/api/v1/"+c.api+"/verify", body, "Idempotency-Key", "r-"+c.flow); b2 != b1 {
			t.Fatalf("%s: a replay answered\n%s\nnot\n%s", c.flow, b2, b1)
		}

		resp, file := fetchURL(t, e.URL+"/"+c.flow+"/"+st.RequestID+"/receipt")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename="`+out.Reference+`.tlog-proof"` {
			t.Fatalf("%s download: %s %v", c.flow, resp.Status, resp.Header)
		}
		if d, err := receipt.Verify([]byte(file), e.LogKey.Verifier()); err != nil || d.Entry.Seq != v.Entry.Seq {
			t.Fatalf("%s: the downloaded receipt: %v", c.flow, err)
		}
		if _, page := fetchURL(t, e.URL+"/"+c.flow+"/"+st.RequestID+"/done"); !strings.Contains(page, `href="/`+c.flow+`/`+st.RequestID+`/receipt"`) {
			t.Fatalf("%s: the confirmation page does not link the receipt", c.flow)
		}
		other := "/objection/"
		if c.flow == "objection" {
			other = "/withdrawal/"
		}
		for _, path := range []string{other + st.RequestID + "/receipt", "/" + c.flow + "/rq_nothing/receipt"} {
			resp, page := fetchURL(t, e.URL+path)
			_, want := fetchURL(t, e.URL+strings.TrimSuffix(path, "receipt")+"done")
			if resp.StatusCode != http.StatusNotFound || strings.ReplaceAll(page, "/receipt", "/done") != want {
				t.Fatalf("GET %s: %s, not the confirmation's 404", path, resp.Status)
			}
		}
	}
}
