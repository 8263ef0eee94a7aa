package web_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/notrain/notrain/api"
	"github.com/notrain/notrain/internal/console"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/web"
)

// apiDoc is the part of the document these tests read.
type apiDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas struct {
			ErrorCode struct {
				Enum []string `json:"enum"`
			} `json:"ErrorCode"`
		} `json:"schemas"`
	} `json:"components"`
}

func readDoc(t *testing.T) apiDoc {
	t.Helper()
	var d apiDoc
	if err := json.Unmarshal(api.Document(), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAPIDocumentIsValidOpenAPI31(t *testing.T) {
	if _, err := contract.New(); err != nil {
		t.Fatal(err)
	}
	var head struct {
		OpenAPI string `json:"openapi"`
		Dialect string `json:"jsonSchemaDialect"`
	}
	if err := json.Unmarshal(api.Document(), &head); err != nil || head.OpenAPI != "3.1.0" || head.Dialect != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("head %+v, %v", head, err)
	}
}

// TestAPIDocumentCoversEveryRoute compares the document's operations with
// the route tables of the portal and the console, both ways.
func TestAPIDocumentCoversEveryRoute(t *testing.T) {
	routes := map[string]bool{}
	for _, p := range append(web.Operations(), console.Operations()...) {
		method, path, _ := strings.Cut(p, " ")
		path = strings.ReplaceAll(path, "...}", "}") // {path...} is one parameter in OpenAPI
		if contract.Documented(path) {
			routes[method+" "+path] = true
		}
	}
	if len(routes) < 20 {
		t.Fatalf("only %d JSON routes listed: the route tables are not read", len(routes))
	}
	documented := map[string]bool{}
	for path, item := range readDoc(t).Paths {
		for method := range item {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in api/openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("api/openapi.json names %s, which no route serves", d)
		}
	}
}

// pageOnlyKeys are "err_" keys of the catalog that no API answer carries as
// a code: a page's wording of the last attempt of code_invalid, and the
// note that a request is complete.
var pageOnlyKeys = []string{"err_code_invalid_last", "err_request_done"}

// TestErrorCodeEnumIsEveryCode reads the code itself: every code constant
// of the domain packages and the portal, every literal code the portal and the console
// answer with (apiError, decodeError, the console's decoder), and requires
// the document's enum to be exactly that set, each with its message.
func TestErrorCodeEnumIsEveryCode(t *testing.T) {
	found := map[string]string{} // code → where
	// Constants named Code… (or code… in the portal) are codes.
	for _, dir := range []string{"../objection", "../report", "../models", "../consent", "../assertion", "."} {
		scan(t, dir, func(n ast.Node, at string) {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if strings.HasPrefix(strings.ToLower(name.Name), "code") && i < len(vs.Values) {
						if s, ok := literal(vs.Values[i]); ok {
							found[s] = at
						}
					}
				}
			}
		})
	}
	for _, dir := range []string{".", "../console"} {
		scan(t, dir, func(n ast.Node, at string) {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "apiError" {
					for _, a := range n.Args {
						if s, ok := literal(a); ok {
							found[s] = at
						}
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "decodeError" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok && kv.Key.(*ast.Ident).Name == "code" {
							if s, ok := literal(kv.Value); ok {
								found[s] = at
							}
						}
					}
				}
			case *ast.ReturnStmt: // the console's decoder: return http.StatusX, "code"
				if len(n.Results) == 2 {
					if sel, ok := n.Results[0].(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Status") {
						if s, ok := literal(n.Results[1]); ok {
							found[s] = at
						}
					}
				}
			}
		})
	}
	if len(found) < 40 {
		t.Fatalf("only %d codes found: the scan does not read the code", len(found))
	}

	var cat map[string]any
	b, err := os.ReadFile("../locale/catalog/en.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	var want []string
	for code, at := range found {
		_, web := cat["err_"+code]
		_, admin := cat["admin_api_"+code]
		if !web && !admin {
			t.Errorf("code %s (%s) has no message in en.json (err_%s or admin_api_%s)", code, at, code, code)
		}
		if !slices.Contains(want, code) {
			want = append(want, code)
		}
	}
	for k := range cat {
		if code, ok := strings.CutPrefix(k, "err_"); ok && !slices.Contains(pageOnlyKeys, k) {
			if _, ok := found[code]; !ok {
				t.Errorf("en.json has %s, but nothing answers with code %s (a page-only key belongs in pageOnlyKeys)", k, code)
			}
		}
	}
	enum := readDoc(t).Components.Schemas.ErrorCode.Enum
	slices.Sort(want)
	slices.Sort(enum)
	for _, c := range want {
		if !slices.Contains(enum, c) {
			t.Errorf("code %s (%s) is missing from ErrorCode in api/openapi.json", c, found[c])
		}
	}
	for _, c := range enum {
		if !slices.Contains(want, c) {
			t.Errorf("ErrorCode in api/openapi.json lists %s, which no code answers with", c)
		}
	}
}

// scan calls visit for every node of the non-test Go files of dir.
func scan(t *testing.T, dir string, visit func(n ast.Node, at string)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if n != nil {
				visit(n, fset.Position(n.Pos()).String())
			}
			return true
		})
	}
}

func literal(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil && s != ""
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	e := newEnv(t, web.Config{})
	resp, err := http.Get(e.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") || !bytes.Equal(body, api.Document()) {
		t.Fatalf("%d %v: %d bytes, not the embedded document", resp.StatusCode, resp.Header, len(body))
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with ETag %q: %d", etag, resp.StatusCode)
	}
}

// A method a JSON route does not serve is the API's 404, never a 405 the
// document does not describe.
func TestAPIWrongMethodIsNotFound(t *testing.T) {
	e := newEnv(t, web.Config{})
	for _, u := range []string{"/api/v1/objections", "/api/v1/me/x", "/api/v1/openapi.json"} {
		method := http.MethodGet
		if u == "/api/v1/openapi.json" {
			method = http.MethodDelete
		}
		req, _ := http.NewRequest(method, e.URL+u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || errorCode(t, string(body)) != "not_found" {
			t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, body)
		}
	}
}
