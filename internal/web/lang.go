package web

import (
	"net/http"
	"net/url"
	"strings"
)

const langCookie = "lang"

// lang picks the page language: an explicit ?lang= (remembered in a cookie),
// then the form's hidden field, the cookie, and Accept-Language.
func (s *Server) lang(w http.ResponseWriter, r *http.Request) string { return s.pageLang(w, r, "") }

// pageLang is lang with a preferred language (the one a request was started
// in) that ranks above Accept-Language.
func (s *Server) pageLang(w http.ResponseWriter, r *http.Request, preferred string) string {
	if l := r.URL.Query().Get("lang"); s.cat.Has(l) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		return l
	}
	if r.PostForm != nil {
		if l := r.PostForm.Get("lang"); s.cat.Has(l) {
			return l
		}
	}
	if c, err := r.Cookie(langCookie); err == nil && s.cat.Has(c.Value) {
		return c.Value
	}
	if s.cat.Has(preferred) {
		return preferred
	}
	return s.cat.Match(r.Header.Get("Accept-Language"))
}

// langLinks offers the current page in every language, each by its own
// name. A GET page keeps its other query parameters (a report's "follows").
func (s *Server) langLinks(r *http.Request, current string) []langLink {
	path := r.URL.Path
	q := url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
		// A platform assertion is never written into a link (see
		// pageData.LangToken): without it, the link leads to the e-mail form.
		q.Del("assertion")
	} else {
		// A page shown in answer to a POST switches language on the page
		// the form came from.
		switch path {
		case "/objection", "/assertion":
			path = "/"
		case "/withdrawal":
			path = "/withdraw"
		case "/consent-withdrawal":
			path = "/consent/withdraw"
		case "/access", "/me/sign-out":
			path = "/me"
		default:
			path = strings.TrimSuffix(path, "/resend")
		}
	}
	var out []langLink
	for _, l := range s.cat.Languages() {
		q.Set("lang", l)
		out = append(out, langLink{Code: l, Name: s.cat.T(l, "lang_name"), URL: path + "?" + q.Encode(), Current: l == current})
	}
	return out
}
