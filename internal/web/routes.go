package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/report"
)

// routes is the whole URL space of notrain, in one place.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	obj, wd, acc := objection.FlowObjection, objection.FlowWithdrawal, objection.FlowAccess

	// Pages (work without JavaScript).
	mux.HandleFunc("GET /{$}", s.objectionForm)
	mux.HandleFunc("POST /objection", s.startPage(obj))
	mux.HandleFunc("POST /assertion", s.assertedConfirm)
	mux.HandleFunc("GET /objection/{rid}", s.checkPage(obj))
	mux.HandleFunc("POST /objection/{rid}", s.verifyPage(obj))
	mux.HandleFunc("POST /objection/{rid}/resend", s.resendPage(obj))
	mux.HandleFunc("GET /objection/{rid}/done", s.donePage(obj))
	mux.HandleFunc("GET /objection/{rid}/receipt", s.receiptDownload(obj))
	mux.HandleFunc("GET /withdraw", s.withdrawalForm)
	mux.HandleFunc("POST /withdrawal", s.startPage(wd))
	mux.HandleFunc("GET /withdrawal/{rid}", s.checkPage(wd))
	mux.HandleFunc("POST /withdrawal/{rid}", s.verifyPage(wd))
	mux.HandleFunc("POST /withdrawal/{rid}/resend", s.resendPage(wd))
	mux.HandleFunc("GET /withdrawal/{rid}/done", s.donePage(wd))
	mux.HandleFunc("GET /me", s.mePage)
	mux.HandleFunc("GET /me/data.json", s.meJSON)
	mux.HandleFunc("GET /me/receipt/{ref}", s.meReceipt)
	mux.HandleFunc("POST /me/sign-out", s.meSignOut)
	mux.HandleFunc("POST /access", s.startPage(acc))
	mux.HandleFunc("GET /access/{rid}", s.checkPage(acc))
	mux.HandleFunc("POST /access/{rid}", s.accessVerifyPage)
	mux.HandleFunc("POST /access/{rid}/resend", s.resendPage(acc))
	mux.HandleFunc("GET /withdrawal/{rid}/receipt", s.receiptDownload(wd))
	mux.HandleFunc("GET /static/style.css", s.stylesheet)
	if s.cfg.Reports != nil {
		rep := report.Flow
		mux.HandleFunc("GET /report", s.reportForm)
		mux.HandleFunc("POST /report", s.reportStart)
		mux.HandleFunc("GET /report/{rid}", s.checkPage(rep))
		mux.HandleFunc("POST /report/{rid}", s.verifyPage(rep))
		mux.HandleFunc("POST /report/{rid}/resend", s.resendPage(rep))
		mux.HandleFunc("GET /report/{rid}/done", s.reportDone)
		mux.HandleFunc("GET /report/{rid}/receipt", s.reportReceipt)
	}
	if s.cfg.Consent {
		s.consentPages(mux)
	}

	// JSON API; every POST honours Idempotency-Key.
	// With a Bearer assertion the objection is recorded at once.
	mux.HandleFunc("POST /api/v1/objections", s.idempotent("objections", s.apiObjections))
	mux.HandleFunc("POST /api/v1/objections/verify", s.idempotent("objections/verify", s.apiVerify(obj)))
	mux.HandleFunc("POST /api/v1/objections/resend", s.idempotent("objections/resend", s.apiResend(obj)))
	mux.HandleFunc("POST /api/v1/withdrawals", s.idempotent("withdrawals", s.apiStart(wd)))
	mux.HandleFunc("POST /api/v1/withdrawals/verify", s.idempotent("withdrawals/verify", s.apiVerify(wd)))
	mux.HandleFunc("POST /api/v1/withdrawals/resend", s.idempotent("withdrawals/resend", s.apiResend(wd)))
	mux.HandleFunc("POST /api/v1/access", s.idempotent("access", s.apiStart(acc)))
	mux.HandleFunc("POST /api/v1/access/resend", s.idempotent("access/resend", s.apiResend(acc)))
	// Not idempotent-cached: a cached answer would keep the token in clear.
	mux.HandleFunc("POST /api/v1/access/verify", s.apiAccessVerify)
	mux.HandleFunc("GET /api/v1/me", s.apiMe)
	if s.cfg.Reports != nil {
		mux.HandleFunc("POST /api/v1/reports", s.idempotent("reports", s.apiReportStart))
		mux.HandleFunc("POST /api/v1/reports/verify", s.idempotent("reports/verify", s.apiReportVerify))
		mux.HandleFunc("POST /api/v1/reports/resend", s.idempotent("reports/resend", s.apiResend(report.Flow)))
	}
	// Bearer-authenticated; a retried registration is a second model, as a
	// second CLI run is.
	mux.HandleFunc("POST /api/v1/models", s.apiModels)
	if s.cfg.Consent {
		s.consentAPI(mux)
	}
	mux.HandleFunc("/api/", s.apiNotFound)

	// The verifiable log (C2SP tlog-tiles under /log).
	mux.HandleFunc("GET /log/checkpoint", s.logCheckpoint)
	mux.HandleFunc("GET /log/key", s.logVerifierKey)
	mux.HandleFunc("GET /log/tile/{path...}", s.logTile)

	// Operations. /metrics is not here: see metricsRoutes.
	mux.HandleFunc("GET /healthz", s.healthz)

	// The dev mailbox exists only in dev mail mode.
	if s.cfg.Dev {
		mux.HandleFunc("GET /dev/mail", s.devMailPage)
		mux.HandleFunc("GET /dev/mail.json", s.devMailJSON)
	}

	// The operator console, unless it has its own listener.
	if s.cfg.Admin != nil {
		mux.Handle("/admin", s.cfg.Admin)
		mux.Handle("/admin/", s.cfg.Admin)
		mux.Handle("/api/v1/admin/", s.cfg.Admin)
	}

	mux.HandleFunc("/", s.notFound)
	return mux
}

// consentPages are the consent pages (policy mode consent only).
func (s *Server) consentPages(mux *http.ServeMux) {
	give, wd := consent.FlowGive, consent.FlowWithdraw
	mux.HandleFunc("GET /consent", s.consentForm)
	mux.HandleFunc("POST /consent", s.startPage(give))
	mux.HandleFunc("GET /consent/{rid}", s.checkPage(give))
	mux.HandleFunc("POST /consent/{rid}", s.verifyPage(give))
	mux.HandleFunc("POST /consent/{rid}/resend", s.resendPage(give))
	mux.HandleFunc("GET /consent/{rid}/done", s.donePage(give))
	mux.HandleFunc("GET /consent/{rid}/receipt", s.receiptDownload(give))
	mux.HandleFunc("GET /consent/withdraw", s.consentWithdrawalForm)
	mux.HandleFunc("POST /consent-withdrawal", s.startPage(wd))
	mux.HandleFunc("GET /consent-withdrawal/{rid}", s.checkPage(wd))
	mux.HandleFunc("POST /consent-withdrawal/{rid}", s.verifyPage(wd))
	mux.HandleFunc("POST /consent-withdrawal/{rid}/resend", s.resendPage(wd))
	mux.HandleFunc("GET /consent-withdrawal/{rid}/done", s.donePage(wd))
	mux.HandleFunc("GET /consent-withdrawal/{rid}/receipt", s.receiptDownload(wd))
}

// consentAPI is the consent API (policy mode consent only); every POST
// honours Idempotency-Key.
func (s *Server) consentAPI(mux *http.ServeMux) {
	give, wd := consent.FlowGive, consent.FlowWithdraw
	mux.HandleFunc("POST /api/v1/consents", s.idempotent("consents", s.apiStart(give)))
	mux.HandleFunc("POST /api/v1/consents/verify", s.idempotent("consents/verify", s.apiVerify(give)))
	mux.HandleFunc("POST /api/v1/consents/resend", s.idempotent("consents/resend", s.apiResend(give)))
	mux.HandleFunc("POST /api/v1/consent-withdrawals", s.idempotent("consent-withdrawals", s.apiStart(wd)))
	mux.HandleFunc("POST /api/v1/consent-withdrawals/verify", s.idempotent("consent-withdrawals/verify", s.apiVerify(wd)))
	mux.HandleFunc("POST /api/v1/consent-withdrawals/resend", s.idempotent("consent-withdrawals/resend", s.apiResend(wd)))
}

// metricsRoutes is the operator's listener (--metrics-addr, loopback by
// default). The counters tell code mails from "no account" notices, so they
// must never be on the listener people reach.
func (s *Server) metricsRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}
