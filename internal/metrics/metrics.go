// Package metrics defines notrain's Prometheus metrics. They live on a
// registry passed in, never on the global default one.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the counters the service updates.
type Metrics struct {
	HTTPRequests  *prometheus.CounterVec // by route pattern and status code
	CodesSent     prometheus.Counter     // code mails queued
	NoticesSent   prometheus.Counter     // "no account uses this address" mails queued
	CodeChecks    *prometheus.CounterVec // codes compared, by result
	CodesVerified *prometheus.CounterVec // successful verifications, by flow
	CodesFailed   *prometheus.CounterVec // refused verifications, by reason
	RateLimited   *prometheus.CounterVec // refused code requests, by limit
	MailDelivered *prometheus.CounterVec // by mail kind
	MailFailures  *prometheus.CounterVec // by kind of failure: temporary | permanent
	MailAbandoned prometheus.Counter
	MailDelay     *prometheus.HistogramVec // queued → handed to the mail server, by mail kind
	Saturated     *prometheus.CounterVec   // code requests refused unsaved: the store could not take them in time, by flow
}

// DelayBuckets are the delivery delay histogram's bounds, in seconds: fine
// below the few seconds a code may take, coarse up to the hours a retried
// mail may wait.
var DelayBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 4 * 3600}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		CodesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notrain_codes_sent_total", Help: "One-time codes queued for delivery.",
		}),
		NoticesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notrain_no_account_notices_total", Help: "Mails telling an address that no account uses it.",
		}),
		CodeChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_code_checks_total", Help: "Codes compared against the stored hash, by result.",
		}, []string{"result"}),
		CodesVerified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_codes_verified_total", Help: "Codes verified successfully, by flow.",
		}, []string{"flow"}),
		CodesFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_codes_failed_total", Help: "Code verifications refused, by reason.",
		}, []string{"reason"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_rate_limited_total", Help: "Code requests refused by a rate limit, by limit.",
		}, []string{"limit"}),
		MailDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_mail_delivered_total", Help: "Mails handed to the mail server (or the dev mailbox), by kind.",
		}, []string{"kind"}),
		MailFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_mail_delivery_failures_total", Help: "Failed delivery attempts, temporary or permanent.",
		}, []string{"type"}),
		MailAbandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "notrain_mail_abandoned_total", Help: "Mails given up after a permanent failure or too many attempts.",
		}),
		MailDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "notrain_mail_delivery_delay_seconds", Help: "Time from a mail being queued to its handover to the mail server, by kind.",
			Buckets: DelayBuckets,
		}, []string{"kind"}),
		Saturated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notrain_requests_refused_saturated_total", Help: "Code requests answered 503 and not saved: the store could not take them within --save-timeout, by flow.",
		}, []string{"flow"}),
	}
	reg.MustRegister(m.HTTPRequests, m.CodesSent, m.NoticesSent, m.CodeChecks, m.CodesVerified, m.CodesFailed,
		m.RateLimited, m.MailDelivered, m.MailFailures, m.MailAbandoned, m.MailDelay, m.Saturated)
	return m
}
