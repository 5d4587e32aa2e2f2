// Ensemble's ordered indexes for FerretDB's SQLite backend (docs/adr/0013-index-served-filters.md, "Ordered
// walks").
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB indexes a
// field by its JSON text, whose order is not BSON's (a JSON string's closing quote sorts between `!` and `#`,
// numbers and strings interleave by their first character), so SQLite could not walk any index in a sort's
// order: a sorted page read every matching document before its first row. An index that Ensemble declares
// with a name starting with `ordered_` is made here with its last key as BSON orders that field: the type's
// rank, then the value as SQL holds it (the keys before it as FerretDB holds them). A sorted find can walk it
// in page order, within an equality on the keys before, and stop at the page's end (ensemble_pushdown.go).
// It serves sorts only; equality on its first key is served by the field's other indexes.

package metadata

import (
	"fmt"
	"strings"
)

// EnsembleOrderedPrefix starts the name of an index made as an ordered index.
const EnsembleOrderedPrefix = "ordered_"

// EnsembleOrderedUnsortable is the rank of a value whose SQL order is not BSON's (doubles, documents, arrays,
// everything rarer than the types ranked below).
const EnsembleOrderedUnsortable = 0

// EnsembleOrdered tells whether an index is made as an ordered index: named `ordered_...`, its keys top-level
// fields. Its last key is held in BSON's order; the keys before it (an equality prefix) as FerretDB's other
// indexes hold them, by their JSON text.
func EnsembleOrdered(index IndexInfo) bool {
	if !strings.HasPrefix(index.Name, EnsembleOrderedPrefix) || len(index.Key) == 0 {
		return false
	}

	for _, key := range index.Key {
		if !ensembleMultikeyField.MatchString(key.Field) {
			return false
		}
	}

	return true
}

// EnsembleOrderedKey is the field an ordered index holds in BSON's order: its last key.
func EnsembleOrderedKey(index IndexInfo) string {
	return index.Key[len(index.Key)-1].Field
}

// EnsembleSchemaType is the SQL expression for a top-level field's sjson type ("string", "array", ...), NULL
// when the document has no such field.
func EnsembleSchemaType(field string) string {
	return fmt.Sprintf(`json_extract(%s, '$."$s".p.%s.t')`, DefaultColumn, field)
}

// EnsembleRank orders a field's types as BSON does: null and missing, numbers, strings, ObjectIds, booleans,
// dates; every other type ranks EnsembleOrderedUnsortable.
func EnsembleRank(field string) string {
	return fmt.Sprintf(
		`CASE coalesce(%s, 'null') WHEN 'null' THEN 1 WHEN 'int' THEN 2 WHEN 'long' THEN 2 WHEN 'string' THEN 3 `+
			`WHEN 'objectId' THEN 7 WHEN 'bool' THEN 8 WHEN 'date' THEN 9 ELSE %d END`,
		EnsembleSchemaType(field), EnsembleOrderedUnsortable,
	)
}

// EnsembleRankOf is the rank EnsembleRank gives a value of an sjson type.
func EnsembleRankOf(typ string) int {
	switch typ {
	case "null":
		return 1
	case "int", "long":
		return 2
	case "string":
		return 3
	case "objectId":
		return 7
	case "bool":
		return 8
	case "date":
		return 9
	default:
		return EnsembleOrderedUnsortable
	}
}

// EnsembleValue is a top-level field's value as SQL holds it (text, integer, NULL), which orders values of
// one ranked type as BSON does.
func EnsembleValue(field string) string {
	return fmt.Sprintf("%s->>'$.%s'", DefaultColumn, field)
}

// EnsembleOrderedColumns are the columns of an ordered index: each key of its equality prefix by its JSON
// text, as FerretDB's own indexes (and Ensemble's equality conditions) write it, then the last key's rank and
// value.
func EnsembleOrderedColumns(index IndexInfo) []string {
	var columns []string

	for _, key := range index.Key[:len(index.Key)-1] {
		columns = append(columns, fmt.Sprintf("%s->%q", DefaultColumn, key.Field))
	}

	last := EnsembleOrderedKey(index)

	return append(columns, EnsembleRank(last), EnsembleValue(last))
}
