// Ensemble's ordered indexes for FerretDB's SQLite backend (docs/adr/0013-index-served-filters.md, "Ordered
// walks").
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB indexes a
// field by its JSON text, whose order is not BSON's (a JSON string's closing quote sorts between `!` and `#`,
// numbers and strings interleave by their first character), so SQLite could not walk any index in a sort's
// order: a sorted page read every matching document before its first row. An index that Ensemble declares
// with a name starting with `ordered_` and a single key is made here as BSON orders that field instead: the
// type's rank, then the value as SQL holds it. A sorted find can walk it in page order and stop at the page's
// end (ensemble_pushdown.go). It serves sorts only; equality is served by the field's other indexes.

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

// EnsembleOrdered tells whether an index is made as an ordered index: named `ordered_...`, one top-level key.
func EnsembleOrdered(index IndexInfo) bool {
	return strings.HasPrefix(index.Name, EnsembleOrderedPrefix) &&
		len(index.Key) == 1 &&
		ensembleMultikeyField.MatchString(index.Key[0].Field)
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

// EnsembleOrderedColumns are the columns of the ordered index of `field`.
func EnsembleOrderedColumns(field string) []string {
	return []string{EnsembleRank(field), EnsembleValue(field)}
}
