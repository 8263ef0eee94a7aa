package locale

import (
	"fmt"
	"text/template/parse"
)

// TemplateKeys returns the keys that the templates' trees pass to the
// translation function fn, e.g. {{t "title"}}, in the order they appear.
// A call whose key is not a string constant is an error: only a constant
// key can be checked at start.
func TemplateKeys(fn string, trees ...*parse.Tree) ([]string, error) {
	w := keyWalker{fn: fn}
	for _, t := range trees {
		if t == nil || t.Root == nil {
			continue
		}
		w.tree = t
		w.node(t.Root)
		if w.err != nil {
			return nil, w.err
		}
	}
	return w.keys, nil
}

type keyWalker struct {
	fn   string
	tree *parse.Tree
	keys []string
	err  error
}

func (w *keyWalker) node(n parse.Node) {
	if n == nil || w.err != nil {
		return
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			w.node(c)
		}
	case *parse.ActionNode:
		w.node(n.Pipe)
	case *parse.IfNode:
		w.branch(&n.BranchNode)
	case *parse.RangeNode:
		w.branch(&n.BranchNode)
	case *parse.WithNode:
		w.branch(&n.BranchNode)
	case *parse.TemplateNode:
		w.node(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for i, c := range n.Cmds {
			// {{"key" | t}}: the key is the previous command's value.
			if i > 0 && len(c.Args) == 1 && w.isFn(c.Args[0]) {
				w.fail(c, "passes a computed key to %s")
				return
			}
			w.node(c)
		}
	case *parse.CommandNode:
		if len(n.Args) > 0 && w.isFn(n.Args[0]) {
			if len(n.Args) < 2 {
				w.fail(n, "calls %s without a key")
				return
			}
			s, ok := n.Args[1].(*parse.StringNode)
			if !ok {
				w.fail(n, "passes a computed key to %s")
				return
			}
			w.keys = append(w.keys, s.Text)
		}
		for _, a := range n.Args {
			w.node(a)
		}
	}
}

func (w *keyWalker) branch(b *parse.BranchNode) {
	w.node(b.Pipe)
	w.node(b.List)
	w.node(b.ElseList)
}

func (w *keyWalker) isFn(n parse.Node) bool {
	id, ok := n.(*parse.IdentifierNode)
	return ok && id.Ident == w.fn
}

func (w *keyWalker) fail(n parse.Node, format string) {
	loc, _ := w.tree.ErrorContext(n)
	w.err = fmt.Errorf("%s: %s: "+format+": only constant keys can be checked at start", loc, n, w.fn)
}
