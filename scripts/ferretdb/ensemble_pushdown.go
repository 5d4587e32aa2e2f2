// Ensemble's filter pushdown for FerretDB's SQLite backend (docs/adr/0013-index-served-filters.md).
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB 1.24's SQLite
// backend creates every index (expression indexes on `_ferretdb_sjson->"field"`) but hands SQLite no condition
// except `_id` alone, so every other filter read the whole table. Here a filter's top-level equality or `$in` on
// `_id`, or on the leading field of an index, becomes a WHERE clause written with the index's own expression,
// so SQLite serves it from that index.
//
// The clause only ever selects a superset of the documents the filter matches: every command filters what the
// backend returns again with the whole filter (which is why FerretDB can turn pushdown off). So:
//   - only strings and ObjectIds are pushed (sjson writes both as JSON strings; an ObjectId and a string of
//     the same hex select the same rows and the filter tells them apart). Numbers, dates, booleans and null
//     are not: Go and SQLite may write them differently, and a narrower WHERE would lose documents;
//   - a field's value may be an array holding the value, so every array value (its JSON text starts with `[`)
//     is selected as well, through a range on the same index;
//   - anything else (operators, dotted paths, duplicate keys, odd field names) is left to FerretDB.
//
// A find with a limit can also have its sort and limit served by SQLite (ensembleExact), but only when the
// whole filter translates into a WHERE clause that selects exactly the matching documents, type by type, and
// the sort fields of those documents hold only types whose SQL order is BSON's order. The handler filters,
// sorts and limits the rows again, so the rows returned only need to contain the true first ones.

package sqlite

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/FerretDB/FerretDB/internal/util/fsql"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
)

// ensembleMaxIn is the most values one pushed `$in` may hold (SQLite binds at most 32,766 parameters).
const ensembleMaxIn = 1000

// ensembleFieldName is what a pushed field's name may be: it is written into the SQL text as the index is.
var ensembleFieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ensembleValues returns the JSON texts of the values `v` matches by equality, or nil if it cannot be pushed.
func ensembleValues(v any) []any {
	one := func(x any) (any, bool) {
		switch x.(type) {
		case string, types.ObjectID:
			b, err := sjson.MarshalSingleValue(x)
			if err != nil {
				return nil, false
			}

			return string(b), true
		default:
			return nil, false
		}
	}

	if s, ok := one(v); ok {
		return []any{s}
	}

	d, ok := v.(*types.Document)
	if !ok || d.Len() != 1 {
		return nil
	}

	op := d.Keys()[0]
	arg := d.Values()[0]

	switch op {
	case "$eq":
		if s, ok := one(arg); ok {
			return []any{s}
		}
	case "$in":
		arr, ok := arg.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > ensembleMaxIn {
			return nil
		}

		res := make([]any, 0, arr.Len())

		for i := 0; i < arr.Len(); i++ {
			x, err := arr.Get(i)
			if err != nil {
				return nil
			}

			s, ok := one(x)
			if !ok {
				return nil
			}

			res = append(res, s)
		}

		return res
	}

	return nil
}

// ensembleColumn is the expression FerretDB's registry indexes a top-level field with.
func ensembleColumn(field string) string {
	if field == "_id" {
		return metadata.IDColumn
	}

	return fmt.Sprintf("%s->%q", metadata.DefaultColumn, field)
}

// ensembleWhere returns a WHERE clause (with a leading space) and its arguments that select a superset of the
// documents `filter` matches from an index, or "" and nil when the filter gives no index anything to serve.
func ensembleWhere(meta *metadata.Collection, filter *types.Document) (string, []any) {
	if meta == nil || filter.Len() == 0 {
		return "", nil
	}

	keys := filter.Keys()
	values := filter.Values()

	seen := make(map[string]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}

	candidates := make(map[string][]any, len(keys))

	for i, k := range keys {
		if seen[k] != 1 || !ensembleFieldName.MatchString(k) {
			continue
		}

		if vals := ensembleValues(values[i]); vals != nil {
			candidates[k] = vals
		}
	}

	if len(candidates) == 0 {
		return "", nil
	}

	placeholders := func(n int) string {
		return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	}

	// An `_id` is never an array: its index answers exactly.
	if vals, ok := candidates["_id"]; ok {
		return fmt.Sprintf(" WHERE %s IN (%s)", metadata.IDColumn, placeholders(len(vals))), vals
	}

	// The index to serve the filter: a unique one first, then the one with most of its leading fields given,
	// then the first declared.
	best, bestScore := "", -1

	for _, index := range meta.Settings.Indexes {
		if len(index.Key) == 0 {
			continue
		}

		if _, ok := candidates[index.Key[0].Field]; !ok {
			continue
		}

		score := 0
		for _, key := range index.Key {
			if _, ok := candidates[key.Field]; !ok {
				break
			}
			score++
		}

		if index.Unique {
			score += 1000
		}

		if score > bestScore {
			best, bestScore = index.Key[0].Field, score
		}
	}

	if best == "" {
		return "", nil
	}

	vals := candidates[best]
	col := ensembleColumn(best)
	where := fmt.Sprintf(" WHERE (%[1]s IN (%[2]s) OR (%[1]s >= '[' AND %[1]s < '\\'))", col, placeholders(len(vals)))

	return where, vals
}

// ensembleSchemaType is the SQL expression for a top-level field's sjson type ("string", "array", ...), NULL
// when the document has no such field.
func ensembleSchemaType(field string) string {
	return fmt.Sprintf(`json_extract(%s, '$."$s".p.%s.t')`, metadata.DefaultColumn, field)
}

// ensembleScalar is one value a filter compares with: its SQL text as the column holds it (JSON), the raw value
// an array element is compared with (json_each), and its sjson type.
type ensembleScalar struct {
	json string
	raw  any
	typ  string
}

// ensembleScalars returns the values `v` matches exactly by equality (`v`, `{$eq: v}`, `{$in: [...]}`), for
// strings, ObjectIds, booleans and null; nil if anything else is asked.
func ensembleScalars(v any) []ensembleScalar {
	one := func(x any) (ensembleScalar, bool) {
		switch x := x.(type) {
		case string:
			b, err := sjson.MarshalSingleValue(x)
			if err != nil {
				return ensembleScalar{}, false
			}

			return ensembleScalar{json: string(b), raw: x, typ: "string"}, true
		case types.ObjectID:
			b, err := sjson.MarshalSingleValue(x)
			if err != nil {
				return ensembleScalar{}, false
			}

			return ensembleScalar{json: string(b), raw: fmt.Sprintf("%x", x[:]), typ: "objectId"}, true
		case bool:
			if x {
				return ensembleScalar{json: "true", typ: "bool"}, true
			}

			return ensembleScalar{json: "false", typ: "bool"}, true
		case types.NullType:
			return ensembleScalar{typ: "null"}, true
		default:
			return ensembleScalar{}, false
		}
	}

	if s, ok := one(v); ok {
		return []ensembleScalar{s}
	}

	d, ok := v.(*types.Document)
	if !ok || d.Len() != 1 {
		return nil
	}

	switch d.Keys()[0] {
	case "$eq":
		if s, ok := one(d.Values()[0]); ok {
			return []ensembleScalar{s}
		}
	case "$in":
		arr, ok := d.Values()[0].(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > ensembleMaxIn {
			return nil
		}

		res := make([]ensembleScalar, 0, arr.Len())

		for i := 0; i < arr.Len(); i++ {
			x, err := arr.Get(i)
			if err != nil {
				return nil
			}

			s, ok := one(x)
			if !ok {
				return nil
			}

			res = append(res, s)
		}

		return res
	}

	return nil
}

// ensembleExactCondition is the SQL condition that holds exactly for the documents whose top-level `field`
// equals one of `vals` as MongoDB compares: the value itself (of the same type), or an array holding it.
func ensembleExactCondition(field string, vals []ensembleScalar) (string, []any) {
	col := ensembleColumn(field)
	typ := ensembleSchemaType(field)

	var scalar, elem []string
	var args, elemArgs []any

	for _, v := range vals {
		switch v.typ {
		case "null":
			// A missing field, or null.
			scalar = append(scalar, fmt.Sprintf("%s IS NULL OR %s = 'null'", col, col))
			elem = append(elem, "je.type = 'null'")
		case "bool":
			scalar = append(scalar, fmt.Sprintf("(%s = '%s' AND %s = 'bool')", col, v.json, typ))
			elem = append(elem, fmt.Sprintf("je.type = '%s'", v.json))
		default:
			scalar = append(scalar, fmt.Sprintf("(%s = ? AND %s = '%s')", col, typ, v.typ))
			args = append(args, v.json)
			elem = append(elem, fmt.Sprintf(
				`(je.type = 'text' AND je.value = ? AND json_extract(%s, '$."$s".p.%s.i[' || je.key || '].t') = '%s')`,
				metadata.DefaultColumn, field, v.typ,
			))
			elemArgs = append(elemArgs, v.raw)
		}
	}

	if field == "_id" {
		// An _id is never an array.
		return "(" + strings.Join(scalar, " OR ") + ")", args
	}

	array := fmt.Sprintf(
		`(%[1]s >= '[' AND %[1]s < '\' AND %[2]s = 'array' AND EXISTS (SELECT 1 FROM json_each(%[3]s, '$.%[4]s') AS je WHERE %[5]s))`,
		col, typ, metadata.DefaultColumn, field, strings.Join(elem, " OR "),
	)

	return "(" + strings.Join(scalar, " OR ") + " OR " + array + ")", append(args, elemArgs...)
}

// ensembleSortable are the sjson types whose SQL order (by ensembleRank, then the SQL value) is BSON's.
// Doubles are left out (NaN), and so are documents, arrays and everything rarer.
var ensembleSortable = []string{"'null'", "'int'", "'long'", "'string'", "'objectId'", "'bool'", "'date'"}

// ensembleRank orders a field's types as BSON does: null and missing, numbers, strings, ObjectIds, booleans,
// dates.
func ensembleRank(field string) string {
	return fmt.Sprintf(
		`CASE %s WHEN 'int' THEN 2 WHEN 'long' THEN 2 WHEN 'string' THEN 3 WHEN 'objectId' THEN 7 `+
			`WHEN 'bool' THEN 8 WHEN 'date' THEN 9 ELSE 1 END`,
		ensembleSchemaType(field),
	)
}

// ensembleExact returns a WHERE clause selecting exactly the documents `filter` matches and an ORDER BY
// clause sorting them as `sort` does, when both can be had; ok is false otherwise (the caller then reads the
// superset of ensembleWhere, unlimited). It asks SQLite once whether the matching documents hold a sort
// field of a type it cannot order as BSON does.
func ensembleExact(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, sort *types.Document) (string, string, []any, bool) {
	if db == nil || meta == nil || meta.Capped() || filter.Len() == 0 {
		return "", "", nil, false
	}

	keys := filter.Keys()
	values := filter.Values()
	seen := make(map[string]bool, len(keys))

	var conds []string
	var args []any

	for i, k := range keys {
		if seen[k] || !ensembleFieldName.MatchString(k) {
			return "", "", nil, false
		}

		seen[k] = true

		vals := ensembleScalars(values[i])
		if vals == nil {
			return "", "", nil, false
		}

		cond, a := ensembleExactCondition(k, vals)
		conds = append(conds, cond)
		args = append(args, a...)
	}

	where := " WHERE " + strings.Join(conds, " AND ")

	var order, guard []string

	for i, k := range sort.Keys() {
		if !ensembleFieldName.MatchString(k) {
			return "", "", nil, false
		}

		dir, ok := sort.Values()[i].(int64)
		if !ok || (dir != 1 && dir != -1) {
			return "", "", nil, false
		}

		desc := ""
		if dir == -1 {
			desc = " DESC"
		}

		order = append(order, ensembleRank(k)+desc, fmt.Sprintf("%s->>'$.%s'%s", metadata.DefaultColumn, k, desc))
		guard = append(guard, fmt.Sprintf("%s NOT IN (%s)", ensembleSchemaType(k), strings.Join(ensembleSortable, ", ")))
	}

	if len(guard) > 0 {
		q := fmt.Sprintf("SELECT 1 FROM %q%s AND (%s) LIMIT 1", meta.TableName, where, strings.Join(guard, " OR "))

		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return "", "", nil, false
		}

		unorderable := rows.Next()
		_ = rows.Close()

		if unorderable {
			return "", "", nil, false
		}
	}

	orderBy := ""
	if len(order) > 0 {
		orderBy = " ORDER BY " + strings.Join(order, ", ")
	}

	return where, orderBy, args, true
}

// ensembleClauses is what Query and Explain append after SELECT ... FROM: the exact WHERE, ORDER BY and LIMIT
// when a limited find can be served that way, the superset WHERE otherwise.
func ensembleClauses(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, exactFilter, sort *types.Document, limit int64) (string, []any, bool) {
	if limit > 0 {
		if where, order, args, ok := ensembleExact(ctx, db, meta, exactFilter, sort); ok {
			return where + order + " LIMIT ?", append(args, limit), true
		}
	}

	where, args := ensembleWhere(meta, filter)

	return where, args, false
}
