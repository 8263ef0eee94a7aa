package filter

import (
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/notrain/notrain/internal/signal"
)

// Why a Parquet row is malformed, beyond the reasons JSON Lines shares.
const (
	whyTimeType = "created_at is neither a string nor a TIMESTAMP column"
	whyBadTS    = "created_at is a TIMESTAMP out of range"
)

// pqLayout says where, in a file's schema, the fields the rules read are.
// The fields are matched by name at the top level, as in the JSON contract;
// a field whose column does not hold what the contract says is treated the
// way the JSON Lines reader treats a value of the wrong type.
type pqLayout struct {
	id, product, author pqString // every row is malformed when unusable
	kind, visibility    pqString // unusable: absent
	text                pqString // unusable: absent
	created             pqTime
	mentions, tags      pqList
	signals             bool   // a column of creators' reservations is present
	maxRep              []byte // per leaf column, for the copy
}

// pqString is a top-level column of strings.
type pqString struct {
	leaf   int // -1: absent, or not a column of strings
	maxDef byte
}

type timeKind uint8

const (
	timeString timeKind = iota // RFC 3339 text
	timeMillis
	timeMicros
	timeNanos
	timeInt96 // legacy Impala/Spark timestamps: nanoseconds of a Julian day
)

// pqTime is the created_at column.
type pqTime struct {
	leaf    int // -1: see present
	present bool
	kind    timeKind
	maxDef  byte
}

// pqList is mentions or tags. When the column is a list of strings, elem
// is set and a row's elements are the values at maxDef; a definition level
// from someDef up to maxDef is a null element. Any other shape makes a row
// whose definition level reaches someDef malformed (in JSON: not a list of
// strings), and leaves rows below it (null, or an empty list) alone.
type pqList struct {
	leaf    int // -1: absent
	strings bool
	someDef byte
	maxDef  byte
}

func newPQLayout(schema *parquet.Schema) *pqLayout {
	l := &pqLayout{}
	l.id = stringColumn(schema, "id")
	l.product = stringColumn(schema, "product")
	l.author = stringColumn(schema, "author_id")
	l.kind = stringColumn(schema, "kind")
	l.visibility = stringColumn(schema, "visibility")
	l.text = stringColumn(schema, "text")
	l.created = timeColumn(schema)
	l.mentions = listColumn(schema, "mentions")
	l.tags = listColumn(schema, "tags")
	for _, name := range []string{signal.FieldAIPref, signal.FieldTDMRep, signal.FieldC2PA} {
		l.signals = l.signals || topField(schema, name) != nil
	}
	for _, path := range schema.Columns() {
		leaf, _ := schema.Lookup(path...)
		l.maxRep = append(l.maxRep, byte(leaf.MaxRepetitionLevel))
	}
	return l
}

// topField finds a top-level field by name.
func topField(schema *parquet.Schema, name string) parquet.Field {
	for _, f := range schema.Fields() {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

func stringColumn(schema *parquet.Schema, name string) pqString {
	f := topField(schema, name)
	if f == nil || !f.Leaf() || f.Repeated() || !isString(f.Type()) {
		return pqString{leaf: -1}
	}
	leaf, ok := schema.Lookup(name)
	if !ok {
		return pqString{leaf: -1}
	}
	return pqString{leaf: leaf.ColumnIndex, maxDef: byte(leaf.MaxDefinitionLevel)}
}

func timeColumn(schema *parquet.Schema) pqTime {
	f := topField(schema, "created_at")
	if f == nil {
		return pqTime{leaf: -1}
	}
	t := pqTime{leaf: -1, present: true}
	if !f.Leaf() || f.Repeated() {
		return t
	}
	kind, ok := timeKindOf(f.Type())
	leaf, found := schema.Lookup("created_at")
	if !ok || !found {
		return t
	}
	t.leaf, t.kind, t.maxDef = leaf.ColumnIndex, kind, byte(leaf.MaxDefinitionLevel)
	return t
}

func timeKindOf(t parquet.Type) (timeKind, bool) {
	switch t.Kind() {
	case parquet.ByteArray:
		return timeString, isString(t)
	case parquet.Int96:
		return timeInt96, true
	case parquet.Int64:
		if lt := t.LogicalType(); lt != nil && lt.Value != nil {
			ts, ok := lt.Value.(*format.TimestampType)
			if !ok {
				return 0, false
			}
			switch ts.Unit.Value.(type) {
			case *format.MilliSeconds:
				return timeMillis, true
			case *format.MicroSeconds:
				return timeMicros, true
			case *format.NanoSeconds:
				return timeNanos, true
			}
			return 0, false
		}
		if ct := t.ConvertedType(); ct != nil {
			switch *ct {
			case deprecated.TimestampMillis:
				return timeMillis, true
			case deprecated.TimestampMicros:
				return timeMicros, true
			}
		}
	}
	return 0, false
}

// isString accepts byte arrays that are text or carry no annotation at all
// (older writers leave UTF8 off); JSON, BSON or decimals are not strings.
func isString(t parquet.Type) bool {
	if t.Kind() != parquet.ByteArray {
		return false
	}
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch lt.Value.(type) {
		case *format.StringType, *format.EnumType:
			return true
		}
		return false
	}
	if ct := t.ConvertedType(); ct != nil {
		return *ct == deprecated.UTF8 || *ct == deprecated.Enum
	}
	return true
}

func listColumn(schema *parquet.Schema, name string) pqList {
	f := topField(schema, name)
	if f == nil {
		return pqList{leaf: -1}
	}
	// Walk down to the first leaf, counting levels: an optional or repeated
	// node adds a definition level, a repeated one a repetition level.
	path := []string{name}
	var node parquet.Node = f
	var def, presentDef, firstRepDef byte
	reps, depth, leaves := 0, 0, countLeaves(f)
	repDepth := -1
	for {
		if node.Optional() || node.Repeated() {
			def++
		}
		if node.Repeated() {
			reps++
			if reps == 1 {
				firstRepDef, repDepth = def, depth
			}
		}
		if depth == 0 {
			presentDef = def
		}
		if node.Leaf() {
			break
		}
		if len(node.Fields()) == 0 {
			return pqList{leaf: -1} // an empty group holds nothing
		}
		child := node.Fields()[0]
		path = append(path, child.Name())
		node = child
		depth++
	}
	leaf, ok := schema.Lookup(path...)
	if !ok {
		return pqList{leaf: -1}
	}
	l := pqList{leaf: leaf.ColumnIndex, maxDef: byte(leaf.MaxDefinitionLevel), someDef: presentDef}
	if reps > 0 {
		l.someDef = firstRepDef
	}
	// A list of strings: one repeated node, at most one level above the
	// leaf (the 2- and 3-level list layouts), and nothing else inside.
	l.strings = reps == 1 && leaves == 1 && depth-repDepth <= 1 && depth <= 2 && isString(node.Type())
	return l
}

func countLeaves(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += countLeaves(f)
	}
	return c
}
