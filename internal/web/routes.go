package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/notrain/notrain/internal/objection"
)

// routes is the whole URL space of notrain, in one place.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	obj, wd, acc := objection.FlowObjection, objection.FlowWithdrawal, objection.FlowAccess

	// Pages (work without JavaScript).
	mux.HandleFunc("GET /{$}", s.objectionForm)
	mux.HandleFunc("POST /objection", s.startPage(obj))
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

	// JSON API; every POST honours Idempotency-Key.
	mux.HandleFunc("POST /api/v1/objections", s.idempotent("objections", s.apiStart(obj)))
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
	// Bearer-authenticated; a retried registration is a second model, as a
	// second CLI run is.
	mux.HandleFunc("POST /api/v1/models", s.apiModels)
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

// metricsRoutes is the operator's listener (--metrics-addr, loopback by
// default). The counters tell code mails from "no account" notices, so they
// must never be on the listener people reach.
func (s *Server) metricsRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}
