package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/notrain/notrain/internal/locale"
)

// shippedWithout is the shipped catalogs with key taken out of every language.
func shippedWithout(t *testing.T, key string) *locale.Catalog {
	t.Helper()
	files, err := filepath.Glob("../locale/catalog/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("catalogs: %v %v", files, err)
	}
	fsys := fstest.MapFS{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m[key]; !ok && key != "" {
			t.Fatalf("%s has no key %q to take out", f, key)
		}
		delete(m, key)
		b, _ = json.Marshal(m)
		fsys["catalog/"+filepath.Base(f)] = &fstest.MapFile{Data: b}
	}
	cat, err := locale.LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// shippedLanguages lists the shipped catalogs' languages, as a missing key's
// error names them.
func shippedLanguages(t *testing.T) []string {
	t.Helper()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Languages()
}

// The shipped catalogs have a message for every key a page or an API answer
// can use; a catalog without one of them stops the server at start, naming
// the key and the languages.
func TestStartupCheckNamesAMissingKey(t *testing.T) {
	if _, err := newRenderer(shippedWithout(t, "")); err != nil {
		t.Fatalf("shipped catalogs: %v", err)
	}
	for _, key := range []string{
		"what_third_exclude",         // a template's, in one branch of an if
		"skip_to_content",            // the layout's
		"err_code_used",              // an objection error code's
		"err_ip_rate_limited",        // the client limit's code
		"err_idempotency_key_reused", // a code of the web layer itself
		"done_withdrawal_title",      // a title named in Go code
		"product_threads",            // a product's name
	} {
		_, err := newRenderer(shippedWithout(t, key))
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(key)) || !strings.Contains(err.Error(), strings.Join(shippedLanguages(t), ", ")) {
			t.Errorf("without %s: %v", key, err)
		}
	}
}

// The lists behind the start-up check hold every code and key the package's
// Go code names, so nothing the code can show escapes the check.
func TestStartupListsCoverTheCode(t *testing.T) {
	shipped := shippedWithout(t, "")
	checked := startupKeys()
	codes := webCodes()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		v, err := strconv.Unquote(lit.Value)
		return v, err == nil
	}
	var sawCodes, sawKeys int
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		key := func(e ast.Expr, why string) {
			if v, ok := str(e); ok {
				sawKeys++
				if !slices.Contains(checked, v) {
					t.Errorf("%s: %s %q is not checked at start (add it to goKeys)", fset.Position(e.Pos()), why, v)
				}
			}
		}
		code := func(e ast.Expr) {
			if v, ok := str(e); ok {
				sawCodes++
				if !slices.Contains(codes, v) {
					t.Errorf("%s: error code %q is not checked at start (add it to webCodes)", fset.Position(e.Pos()), v)
				}
			}
		}
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec, *ast.Field:
				return false // import paths, struct tags
			case *ast.KeyValueExpr:
				ast.Inspect(n.Value, visit) // a map key is a JSON field, not a message
				return false
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch {
				case sel.Sel.Name == "apiError" && len(n.Args) > 3:
					code(n.Args[3])
				case sel.Sel.Name == "errorPage" && len(n.Args) > 3:
					key(n.Args[3], "error page message")
				case sel.Sel.Name == "page" && len(n.Args) > 4:
					if v, ok := str(n.Args[3]); ok && !slices.Contains(pageNames, v) {
						t.Errorf("%s: page %q is not in pageNames", fset.Position(n.Pos()), v)
					}
					key(n.Args[4], "page title")
				case (sel.Sel.Name == "T" || sel.Sel.Name == "HasKey") && len(n.Args) > 1:
					key(n.Args[1], "message")
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "decodeError" && len(n.Elts) > 1 {
					code(n.Elts[1])
				}
			case *ast.BasicLit:
				// A key held in a variable first (a title chosen by flow).
				// "err_" alone is the prefix of the error codes' keys, checked by code.
				if v, ok := str(n); ok && v != "err_" && (strings.HasPrefix(v, "err_") || shipped.HasKey(v)) {
					key(n, "key")
				}
			}
			return true
		}
		ast.Inspect(f, visit)
	}
	if sawCodes < 5 || sawKeys < 5 {
		t.Fatalf("found only %d codes and %d keys: is the walk broken?", sawCodes, sawKeys)
	}
}
