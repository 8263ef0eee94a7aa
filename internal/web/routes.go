package web

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/report"
)

// feature is what a route needs of the configuration to exist.
type feature int

const (
	always   feature = iota
	reports          // Config.Reports is set
	consents         // Config.Consent (policy mode consent)
	dev              // Config.Dev: the dev mailbox
	admin            // Config.Admin: the console on this listener
)

// route is one entry of the portal's URL space.
type route struct {
	pattern string // method and path, as http.ServeMux reads it
	needs   feature
	handler http.Handler
}

// routeList is the whole URL space of notrain, in one place: routes
// registers it and a test lists it against the API document, so no JSON
// route can be added undocumented.
func (s *Server) routeList() []route {
	obj, wd, acc, rep := objection.FlowObjection, objection.FlowWithdrawal, objection.FlowAccess, report.Flow
	give, cwd := consent.FlowGive, consent.FlowWithdraw
	f := func(pattern string, needs feature, h http.HandlerFunc) route { return route{pattern, needs, h} }
	return []route{
		// Pages (work without JavaScript).
		f("GET /{$}", always, s.objectionForm),
		f("POST /objection", always, s.startPage(obj)),
		f("POST /assertion", always, s.assertedConfirm),
		f("GET /objection/{rid}", always, s.checkPage(obj)),
		f("POST /objection/{rid}", always, s.verifyPage(obj)),
		f("POST /objection/{rid}/resend", always, s.resendPage(obj)),
		f("GET /objection/{rid}/done", always, s.donePage(obj)),
		f("GET /objection/{rid}/receipt", always, s.receiptDownload(obj)),
		f("GET /withdraw", always, s.withdrawalForm),
		f("POST /withdrawal", always, s.startPage(wd)),
		f("GET /withdrawal/{rid}", always, s.checkPage(wd)),
		f("POST /withdrawal/{rid}", always, s.verifyPage(wd)),
		f("POST /withdrawal/{rid}/resend", always, s.resendPage(wd)),
		f("GET /withdrawal/{rid}/done", always, s.donePage(wd)),
		f("GET /me", always, s.mePage),
		f("GET /me/data.json", always, s.meJSON),
		f("GET /me/receipt/{ref}", always, s.meReceipt),
		f("POST /me/sign-out", always, s.meSignOut),
		f("POST /access", always, s.startPage(acc)),
		f("GET /access/{rid}", always, s.checkPage(acc)),
		f("POST /access/{rid}", always, s.accessVerifyPage),
		f("POST /access/{rid}/resend", always, s.resendPage(acc)),
		f("GET /withdrawal/{rid}/receipt", always, s.receiptDownload(wd)),
		f("GET /static/style.css", always, s.stylesheet),
		f("GET /report", reports, s.reportForm),
		f("POST /report", reports, s.reportStart),
		f("GET /report/{rid}", reports, s.checkPage(rep)),
		f("POST /report/{rid}", reports, s.verifyPage(rep)),
		f("POST /report/{rid}/resend", reports, s.resendPage(rep)),
		f("GET /report/{rid}/done", reports, s.reportDone),
		f("GET /report/{rid}/receipt", reports, s.reportReceipt),
		f("GET /consent", consents, s.consentForm),
		f("POST /consent", consents, s.startPage(give)),
		f("GET /consent/{rid}", consents, s.checkPage(give)),
		f("POST /consent/{rid}", consents, s.verifyPage(give)),
		f("POST /consent/{rid}/resend", consents, s.resendPage(give)),
		f("GET /consent/{rid}/done", consents, s.donePage(give)),
		f("GET /consent/{rid}/receipt", consents, s.receiptDownload(give)),
		f("GET /consent/withdraw", consents, s.consentWithdrawalForm),
		f("POST /consent-withdrawal", consents, s.startPage(cwd)),
		f("GET /consent-withdrawal/{rid}", consents, s.checkPage(cwd)),
		f("POST /consent-withdrawal/{rid}", consents, s.verifyPage(cwd)),
		f("POST /consent-withdrawal/{rid}/resend", consents, s.resendPage(cwd)),
		f("GET /consent-withdrawal/{rid}/done", consents, s.donePage(cwd)),
		f("GET /consent-withdrawal/{rid}/receipt", consents, s.receiptDownload(cwd)),

		// JSON API; every POST honours Idempotency-Key.
		f("GET /api/v1/openapi.json", always, s.openAPI),
		// With a Bearer assertion the objection is recorded at once.
		f("POST /api/v1/objections", always, s.idempotent("objections", s.apiObjections)),
		f("POST /api/v1/objections/verify", always, s.idempotent("objections/verify", s.apiVerify(obj))),
		f("POST /api/v1/objections/resend", always, s.idempotent("objections/resend", s.apiResend(obj))),
		f("POST /api/v1/withdrawals", always, s.idempotent("withdrawals", s.apiStart(wd))),
		f("POST /api/v1/withdrawals/verify", always, s.idempotent("withdrawals/verify", s.apiVerify(wd))),
		f("POST /api/v1/withdrawals/resend", always, s.idempotent("withdrawals/resend", s.apiResend(wd))),
		f("POST /api/v1/access", always, s.idempotent("access", s.apiStart(acc))),
		f("POST /api/v1/access/resend", always, s.idempotent("access/resend", s.apiResend(acc))),
		// Not idempotent-cached: a cached answer would keep the token in clear.
		f("POST /api/v1/access/verify", always, s.apiAccessVerify),
		f("GET /api/v1/me", always, s.apiMe),
		f("POST /api/v1/reports", reports, s.idempotent("reports", s.apiReportStart)),
		f("POST /api/v1/reports/verify", reports, s.idempotent("reports/verify", s.apiReportVerify)),
		f("POST /api/v1/reports/resend", reports, s.idempotent("reports/resend", s.apiResend(rep))),
		// Bearer-authenticated; a retried registration is a second model, as a
		// second CLI run is.
		f("POST /api/v1/models", always, s.apiModels),
		f("POST /api/v1/consents", consents, s.idempotent("consents", s.apiStart(give))),
		f("POST /api/v1/consents/verify", consents, s.idempotent("consents/verify", s.apiVerify(give))),
		f("POST /api/v1/consents/resend", consents, s.idempotent("consents/resend", s.apiResend(give))),
		f("POST /api/v1/consent-withdrawals", consents, s.idempotent("consent-withdrawals", s.apiStart(cwd))),
		f("POST /api/v1/consent-withdrawals/verify", consents, s.idempotent("consent-withdrawals/verify", s.apiVerify(cwd))),
		f("POST /api/v1/consent-withdrawals/resend", consents, s.idempotent("consent-withdrawals/resend", s.apiResend(cwd))),
		f("/api/", always, s.apiNotFound),

		// The verifiable log (C2SP tlog-tiles under /log).
		f("GET /log/checkpoint", always, s.logCheckpoint),
		f("GET /log/key", always, s.logVerifierKey),
		f("GET /log/tile/{path...}", always, s.logTile),

		// Operations. /metrics is not here: see metricsRoutes.
		f("GET /healthz", always, s.healthz),

		// The dev mailbox exists only in dev mail mode.
		f("GET /dev/mail", dev, s.devMailPage),
		f("GET /dev/mail.json", dev, s.devMailJSON),

		// The operator console, unless it has its own listener.
		{"/admin", admin, s.cfg.Admin},
		{"/admin/", admin, s.cfg.Admin},
		{"/api/v1/admin/", admin, s.cfg.Admin},

		f("/", always, s.notFound),
	}
}

// has reports whether the configuration gives a route of this feature.
func (s *Server) has(f feature) bool {
	switch f {
	case reports:
		return s.cfg.Reports != nil
	case consents:
		return s.cfg.Consent
	case dev:
		return s.cfg.Dev
	case admin:
		return s.cfg.Admin != nil
	}
	return true
}

// routes builds the mux from routeList.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.routeList() {
		if s.has(rt.needs) {
			mux.Handle(rt.pattern, rt.handler)
		}
	}
	return mux
}

// Operations lists every "METHOD /path" the portal can serve in some
// configuration, in the ServeMux's pattern syntax; patterns without a
// method (the catch-alls and the console's mount points) are not
// operations and are left out. The API document is checked against it.
func Operations() []string {
	var out []string
	for _, rt := range (&Server{}).routeList() {
		if strings.Contains(rt.pattern, " ") {
			out = append(out, rt.pattern)
		}
	}
	return out
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
