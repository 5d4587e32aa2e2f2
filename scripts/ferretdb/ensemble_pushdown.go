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

package sqlite

import (
	"fmt"
	"regexp"
	"strings"

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
