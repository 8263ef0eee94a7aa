package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/backlog"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// overloadEnv is a portal whose pages read a backlog monitor over its
// real store, as serve wires it.
type overloadEnv struct {
	*env
	mon *backlog.Monitor
}

func newOverloadEnv(t *testing.T, opt fixture.Options) *overloadEnv {
	t.Helper()
	f := fixture.New(t, opt)
	f.Import(t, fixture.Accounts)
	mon := backlog.New(f.DB, backlog.Config{Now: f.Clock.Now, Log: fixture.Quiet()})
	f.Reg.MustRegister(mon.Collectors()...)
	e := serveFixture(t, f, web.Config{Backlog: mon})
	e.disp.Metrics = f.Metrics
	return &overloadEnv{env: e, mon: mon}
}

func (e *overloadEnv) refresh(t *testing.T) {
	t.Helper()
	if err := e.mon.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *overloadEnv) deliver(t *testing.T) {
	t.Helper()
	if _, err := e.disp.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// startForm posts the objection form and returns the check page's path.
func (e *overloadEnv) startForm(t *testing.T, addr, lang string) string {
	t.Helper()
	return postRedirect(t, e.URL+"/objection", url.Values{"email": {addr}, "scope": {"all"}, "lang": {lang}})
}

// When code mails fall behind, the check page a person lands on after
// asking for a code says, in their language, that the request is saved
// and the code will come; the page is the same for an address with an
// account and one without, and the notice goes once the mail is out.
func TestCheckPageSaysTheCodeWillComeWhenMailIsBehind(t *testing.T) {
	e := newOverloadEnv(t, fixture.Options{})
	for _, lang := range e.Cat.Languages() {
		notice := html.EscapeString(e.Cat.T(lang, "check_behind"))
		known := e.startForm(t, "anna@example.de", lang)
		unknown := e.startForm(t, "nobody-"+lang+"@example.de", lang)
		e.refresh(t)
		if p := get(t, e.URL+known, lang); strings.Contains(p, notice) || strings.Contains(p, `id="code-delayed"`) {
			t.Fatalf("%s: the notice shows while mail is on time:\n%s", lang, p)
		}
		// The dispatcher is not keeping up: the oldest code mail waits
		// longer than the threshold.
		e.Clock.Advance(backlog.DefaultThreshold + time.Second)
		e.refresh(t)
		if !e.mon.Behind() {
			t.Fatalf("%s: the monitor does not see a backlog %s old", lang, e.mon.OldestUrgentAge())
		}
		pk, pu := get(t, e.URL+known, lang), get(t, e.URL+unknown, lang)
		if !strings.Contains(pk, notice) {
			t.Fatalf("%s: the check page does not say the code will come:\n%s", lang, pk)
		}
		if normalize(pk) != normalize(pu) {
			t.Fatalf("%s: check pages differ for known and unknown addresses:\n%s\n----\n%s", lang, pk, pu)
		}
		// A resend refused beside the field keeps the notice.
		resp, err := noRedirect().PostForm(e.URL+known+"/resend", url.Values{"lang": {lang}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusSeeOther {
			t.Fatalf("%s: a resend within the cool-down was accepted", lang)
		}
		if !strings.Contains(string(b), notice) {
			t.Fatalf("%s: the refused resend's page lost the notice:\n%s", lang, b)
		}
		// The mail goes out; the page says so and drops the notice.
		e.deliver(t)
		e.refresh(t)
		if e.mon.Behind() {
			t.Fatalf("%s: still behind with an empty outbox", lang)
		}
		if p := get(t, e.URL+known, lang); strings.Contains(p, notice) {
			t.Fatalf("%s: the notice stays after delivery:\n%s", lang, p)
		}
		// The next language's request for the same address comes after
		// the day that limits code mails per address.
		e.Clock.Advance(24 * time.Hour)
	}
}

// The JSON API carries the same fact as code_delayed, identical for known
// and unknown addresses, beside every field it had before.
func TestAPIStartSaysCodeDelayed(t *testing.T) {
	e := newOverloadEnv(t, fixture.Options{})
	start := func(addr string) (map[string]any, string) {
		t.Helper()
		resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"`+addr+`","lang":"en"}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", addr, resp.StatusCode, body)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"request_id", "status", "expires_at", "resend_after"} {
			if _, ok := out[k]; !ok {
				t.Fatalf("%s: answer lost %q: %s", addr, k, body)
			}
		}
		return out, resp.Status + "\n" + headerDump(resp.Header) + "\n" + normalize(body)
	}
	e.refresh(t)
	if out, _ := start("anna@example.de"); out["code_delayed"] != false {
		t.Fatalf("code_delayed = %v with an empty backlog", out["code_delayed"])
	}
	e.Clock.Advance(backlog.DefaultThreshold + time.Second)
	e.refresh(t)
	k, kraw := start("ben@example.com")
	_, uraw := start("nobody@example.de")
	if k["code_delayed"] != true {
		t.Fatalf("code_delayed = %v behind a %s backlog", k["code_delayed"], e.mon.OldestUrgentAge())
	}
	if kraw != uraw {
		t.Fatalf("answers differ:\nknown:   %s\nunknown: %s", kraw, uraw)
	}
}

// blockWriter holds every writer of the store busy until the test ends
// (or release is called), as a surge that fills every commit would.
func blockWriter(t *testing.T, db *store.DB) (release func()) {
	t.Helper()
	n := db.Writers()
	held, done := make(chan struct{}, n), make(chan struct{})
	errc := make(chan error, n)
	for range n {
		go func() {
			errc <- db.Write(context.Background(), func(context.Context, *store.Tx) error {
				held <- struct{}{}
				<-done
				return nil
			})
		}()
		<-held
	}
	var released bool
	release = func() {
		if !released {
			released = true
			close(done)
			for range n {
				if err := <-errc; err != nil {
					t.Error(err)
				}
			}
		}
	}
	t.Cleanup(release)
	return release
}

// When the store cannot take a code request within the bound, the person
// is told at once, with 503 and Retry-After, that nothing was saved and
// when to try again: no hang, and no mail left to send for it.
func TestCodeRequestRefusedUnsavedWhenTheStoreIsSaturated(t *testing.T) {
	dbtest.Each(t, testRefusedUnsaved)
}

func testRefusedUnsaved(t *testing.T, dsn string) {
	const bound = 200 * time.Millisecond
	e := newOverloadEnv(t, fixture.Options{SaveTimeout: bound, DSN: dsn})
	release := blockWriter(t, e.DB)
	retry := strconv.Itoa(int(objection.SaturatedRetryAfter / time.Second))
	for _, lang := range e.Cat.Languages() {
		want := e.Cat.T(lang, "err_busy_not_saved", "seconds", retry)
		if strings.Contains(want, "{") {
			t.Fatalf("%s: message keeps a placeholder: %s", lang, want)
		}
		began := time.Now()
		resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","lang":"`+lang+`"}`)
		took := time.Since(began)
		var out struct {
			Error struct {
				Code, Message string
				RetryAfter    int `json:"retry_after"`
			} `json:"error"`
		}
		json.Unmarshal([]byte(body), &out)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != retry ||
			out.Error.Code != objection.CodeSaturated || out.Error.Message != want || out.Error.RetryAfter != int(objection.SaturatedRetryAfter/time.Second) {
			t.Fatalf("%s API: %d Retry-After %q %s", lang, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if took < bound || took > bound+2*time.Second {
			t.Fatalf("%s API: answered after %s, bound %s", lang, took, bound)
		}
		// An Idempotency-Key's own write is bounded too.
		resp, body = postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","lang":"`+lang+`"}`, "Idempotency-Key", "k-"+lang)
		if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != objection.CodeSaturated {
			t.Fatalf("%s API with a key: %d %s", lang, resp.StatusCode, body)
		}
		// The form: the same message on the form page, the address kept.
		began = time.Now()
		fresp, err := noRedirect().PostForm(e.URL+"/objection", url.Values{"email": {"anna@example.de"}, "scope": {"all"}, "lang": {lang}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(fresp.Body)
		fresp.Body.Close()
		if fresp.StatusCode != http.StatusServiceUnavailable || fresp.Header.Get("Retry-After") != retry ||
			!strings.Contains(string(page), html.EscapeString(want)) || !strings.Contains(string(page), `value="anna@example.de"`) {
			t.Fatalf("%s form: %d Retry-After %q\n%s", lang, fresp.StatusCode, fresp.Header.Get("Retry-After"), page)
		}
		if took := time.Since(began); took > bound+2*time.Second {
			t.Fatalf("%s form: answered after %s", lang, took)
		}
	}
	release()
	// Nothing of the refused requests was written, not even after the
	// writer came free: no request, no mail.
	if ms := e.MailsTo(t, "anna@example.de"); len(ms) != 0 {
		t.Fatalf("refused requests left %d mails", len(ms))
	}
	if got := e.Counter(t, "notrain_requests_refused_saturated_total", map[string]string{"flow": "objection"}); got != float64(2*len(e.Cat.Languages())) {
		t.Fatalf("notrain_requests_refused_saturated_total = %v, want 2 per language (%d)", got, 2*len(e.Cat.Languages()))
	}
	// The same request, once the store keeps up, is saved and answered.
	resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de"}`, "Idempotency-Key", "k-en")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after the surge: %d %s", resp.StatusCode, body)
	}
	if ms := e.MailsTo(t, "anna@example.de"); len(ms) != 1 || ms[0].Kind != mail.KindCode {
		t.Fatalf("after the surge: mails %+v", ms)
	}
}

// A full write queue is refused at once, without waiting out the bound.
func TestFullWriteQueueIsRefusedAtOnce(t *testing.T) {
	e := newOverloadEnv(t, fixture.Options{SaveTimeout: time.Minute})
	blockWriter(t, e.DB)
	depth, capacity := e.DB.WriteQueue()
	if depth != 0 || capacity <= 0 {
		t.Fatalf("write queue %d/%d with only the writer busy", depth, capacity)
	}
	// Fill the queue behind the held writer.
	for range capacity {
		go e.DB.Write(context.Background(), func(context.Context, *store.Tx) error { return nil })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if d, _ := e.DB.WriteQueue(); d == capacity {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write queue did not fill")
		}
	}
	m := get(t, e.MetricsURL+"/metrics", "en")
	if want := "notrain_store_write_queue_depth " + strconv.Itoa(capacity); !strings.Contains(m, want) {
		t.Fatalf("metrics lack %q", want)
	}
	began := time.Now()
	resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != objection.CodeSaturated {
		t.Fatalf("full queue: %d %s", resp.StatusCode, body)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("full queue: answered after %s", took)
	}
}

// /metrics shows the backlog by priority, the oldest due urgent mail's
// age, whether pages say codes are late, the write queue, and each kind's
// delivery delay.
func TestMetricsShowBacklogAndDeliveryDelay(t *testing.T) {
	dbtest.Each(t, testBacklogMetrics)
}

func testBacklogMetrics(t *testing.T, dsn string) {
	e := newOverloadEnv(t, fixture.Options{DSN: dsn})
	scrape := func() string { t.Helper(); return get(t, e.MetricsURL+"/metrics", "en") }
	has := func(m string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(m, w+"\n") {
				t.Errorf("metrics lack %q", w)
			}
		}
	}
	var ridAnna string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		_, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"`+addr+`"}`)
		if ridAnna == "" {
			var st struct {
				RequestID string `json:"request_id"`
			}
			json.Unmarshal([]byte(body), &st)
			ridAnna = st.RequestID
		}
	}
	e.Clock.Advance(7 * time.Second)
	_, capacity := e.DB.WriteQueue()
	has(scrape(),
		`notrain_outbox_backlog{priority="urgent"} 2`, `notrain_outbox_backlog{priority="other"} 0`,
		`notrain_outbox_oldest_urgent_age_seconds 7`, `notrain_mail_behind 1`,
		`notrain_store_write_queue_depth 0`, fmt.Sprintf("notrain_store_write_queue_capacity %d", capacity))
	e.deliver(t)
	m := scrape()
	has(m, `notrain_outbox_backlog{priority="urgent"} 0`, `notrain_outbox_oldest_urgent_age_seconds 0`, `notrain_mail_behind 0`,
		// Queued 7 s before they were handed over: above 5, within 10.
		`notrain_mail_delivery_delay_seconds_bucket{kind="code",le="5"} 0`,
		`notrain_mail_delivery_delay_seconds_bucket{kind="code",le="10"} 1`,
		`notrain_mail_delivery_delay_seconds_count{kind="code"} 1`,
		`notrain_mail_delivery_delay_seconds_count{kind="no_account"} 1`)
	// The confirmation is not urgent.
	resp, body := postJSON(t, e.URL+"/api/v1/objections/verify", `{"request_id":"`+ridAnna+`","code":"`+e.CodeFor(t, ridAnna)+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	e.Clock.Advance(time.Minute)
	has(scrape(), `notrain_outbox_backlog{priority="urgent"} 0`, `notrain_outbox_backlog{priority="other"} 1`,
		`notrain_outbox_oldest_urgent_age_seconds 0`, `notrain_mail_behind 0`)
	// A code mail waiting out a retry delay is not backlog; once due, it is.
	if err := e.DB.Write(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		return tx.QueueMail(ctx, store.Mail{ID: "m-retry", MessageID: "<m-retry@notrain.test>", Kind: mail.KindCode, To: "x@example.de",
			Lang: "en", Subject: "s", Text: "t", Urgent: true, CreatedAt: e.Clock.Now(), NextAttemptAt: e.Clock.Now().Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	has(scrape(), `notrain_outbox_backlog{priority="urgent"} 1`, `notrain_outbox_oldest_urgent_age_seconds 0`, `notrain_mail_behind 0`)
	e.Clock.Advance(time.Hour + 30*time.Second)
	has(scrape(), `notrain_outbox_oldest_urgent_age_seconds 30`, `notrain_mail_behind 1`)
}

// The other half of "not saved is certain": a write that has started
// when the bound runs out is waited for and reported as what it is.
func TestWriteWithinWaitsForAWriteThatStarted(t *testing.T) {
	e := newOverloadEnv(t, fixture.Options{})
	const bound = 100 * time.Millisecond
	err := e.DB.WriteWithin(context.Background(), bound, func(ctx context.Context, tx *store.Tx) error {
		time.Sleep(3 * bound) // past the bound, inside the transaction
		return tx.QueueMail(ctx, store.Mail{ID: "m-slow", MessageID: "<m-slow@notrain.test>", Kind: mail.KindCode,
			To: "slow@example.de", Lang: "en", Subject: "s", Text: "t", Urgent: true, CreatedAt: e.Clock.Now()})
	})
	if err != nil {
		t.Fatalf("a write that started within the bound: %v", err)
	}
	if ms := e.MailsTo(t, "slow@example.de"); len(ms) != 1 {
		t.Fatalf("the started write is not saved: %d mails", len(ms))
	}
	// And one that never started is refused, then never runs.
	release := blockWriter(t, e.DB)
	ran := make(chan struct{}, 1)
	err = e.DB.WriteWithin(context.Background(), bound, func(context.Context, *store.Tx) error { ran <- struct{}{}; return nil })
	if !errors.Is(err, store.ErrSaturated) {
		t.Fatalf("a write held behind a busy writer: %v, want ErrSaturated", err)
	}
	release()
	// A later write commits after the abandoned one would have run.
	if err := e.DB.Write(context.Background(), func(context.Context, *store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("the abandoned write ran after its refusal")
	default:
	}
}
