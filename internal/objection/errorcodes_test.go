package objection

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every Code… string constant of the package is in Codes, so a new refusal
// cannot miss the start-up check of its translations.
func TestCodesListsEveryErrorCode(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var consts []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// A refusal names its code by constant, so the list below sees it.
		ast.Inspect(f, func(n ast.Node) bool {
			var code ast.Expr
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Error" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Code") {
							code = kv.Value
						}
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "fieldErr" && len(n.Args) > 0 {
					code = n.Args[0]
				}
			}
			// fieldErr passes its parameter on: its callers are checked.
			if id, ok := code.(*ast.Ident); code != nil && (!ok || !strings.HasPrefix(id.Name, "Code")) && !isIdent(code, "code") {
				t.Errorf("%s: a refusal's code must be a Code… constant", fset.Position(code.Pos()))
			}
			return true
		})
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					consts = append(consts, v)
				}
			}
		}
	}
	if len(consts) < 10 {
		t.Fatalf("found only %d Code constants: %v", len(consts), consts)
	}
	codes := Codes()
	for _, c := range consts {
		if !slices.Contains(codes, c) {
			t.Errorf("error code %q is not in Codes()", c)
		}
	}
	if len(codes) != len(consts) {
		t.Errorf("Codes() has %d codes, the package declares %d", len(codes), len(consts))
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
