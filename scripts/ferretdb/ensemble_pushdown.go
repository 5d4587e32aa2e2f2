// Ensemble's filter pushdown for FerretDB's SQLite backend (docs/adr/0013-index-served-filters.md).
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB 1.24's SQLite
// backend creates every index (expression indexes on `_ferretdb_sjson->"field"`) but hands SQLite no condition
// except `_id` alone, so every other filter read the whole table. Here a filter's top-level equality, `$in` or
// `$all` on `_id`, or on the leading field of an index, becomes a WHERE clause written with the index's own
// expression (and, for array values, the field's side table of ensemble_multikey.go), so SQLite serves it
// from that index.
//
// The clause (ensembleWhere) only ever selects a superset of the documents the filter matches: every command
// filters what the backend returns again with the whole filter (which is why FerretDB can turn pushdown off).
// So:
//   - only strings and ObjectIds are pushed (sjson writes both as JSON strings; an ObjectId and a string of
//     the same hex select the same rows and the filter tells them apart), and booleans. Numbers, dates and
//     null are not: Go and SQLite may write numbers differently, and a narrower WHERE would lose documents;
//   - a field's value may be an array holding the value, so array values are selected as well: through the
//     field's side table when it has one, else every array value (its JSON text starts with `[`) through a
//     range on the same index;
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
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
)

// ensembleMaxIn is the most values one pushed `$in` or `$all` may hold (SQLite binds at most 32,766).
const ensembleMaxIn = 1000

// ensembleFieldName is what a pushed field's name may be: it is written into the SQL text as the index is.
var ensembleFieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ensembleScalar is one value a filter compares with: its text as the field's JSON holds it, the raw string an
// array element is compared with (json_each, the side table), and its sjson type.
type ensembleScalar struct {
	json string
	raw  string
	typ  string
}

// ensembleCondition is a field's condition: equal to one of vals (`v`, `$eq`, `$in`), holding all of them
// (`$all`), or within bounds (`$gt`, `$gte`, `$lt`, `$lte` of strings, ObjectIds or dates; exact mode only).
type ensembleCondition struct {
	vals   []ensembleScalar
	all    bool
	bounds []ensembleBound
}

// ensembleBound is one comparison: an SQL operator and the value's SQL form and sjson type.
type ensembleBound struct {
	op  string
	arg any
	typ string
}

var ensembleBoundOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// ensembleBounds parses `{$gt: a, $lt: b}` and the like, all of one type of string, ObjectId or date.
func ensembleBounds(d *types.Document) (ensembleCondition, bool) {
	var res ensembleCondition

	for i, k := range d.Keys() {
		op, ok := ensembleBoundOps[k]
		if !ok {
			return ensembleCondition{}, false
		}

		var b ensembleBound

		switch x := d.Values()[i].(type) {
		case string:
			b = ensembleBound{op: op, arg: x, typ: "string"}
		case types.ObjectID:
			b = ensembleBound{op: op, arg: fmt.Sprintf("%x", x[:]), typ: "objectId"}
		case time.Time:
			b = ensembleBound{op: op, arg: x.UnixMilli(), typ: "date"}
		default:
			return ensembleCondition{}, false
		}

		if len(res.bounds) > 0 && res.bounds[0].typ != b.typ {
			return ensembleCondition{}, false
		}

		res.bounds = append(res.bounds, b)
	}

	return res, len(res.bounds) > 0
}

func ensembleOne(x any) (ensembleScalar, bool) {
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

// ensembleParse returns the condition `v` states for a field, or false if it states anything else.
func ensembleParse(v any) (ensembleCondition, bool) {
	if s, ok := ensembleOne(v); ok {
		return ensembleCondition{vals: []ensembleScalar{s}}, true
	}

	d, ok := v.(*types.Document)
	if !ok || d.Len() == 0 {
		return ensembleCondition{}, false
	}

	if d.Len() > 1 {
		return ensembleBounds(d)
	}

	op := d.Keys()[0]
	arg := d.Values()[0]

	switch op {
	case "$eq":
		if s, ok := ensembleOne(arg); ok {
			return ensembleCondition{vals: []ensembleScalar{s}}, true
		}
	case "$in", "$all":
		arr, ok := arg.(*types.Array)
		if !ok || arr.Len() > ensembleMaxIn || (op == "$all" && arr.Len() == 0) {
			return ensembleCondition{}, false
		}

		res := ensembleCondition{all: op == "$all"}

		for i := 0; i < arr.Len(); i++ {
			x, err := arr.Get(i)
			if err != nil {
				return ensembleCondition{}, false
			}

			s, ok := ensembleOne(x)
			if !ok {
				return ensembleCondition{}, false
			}

			res.vals = append(res.vals, s)
		}

		return res, true
	default:
		return ensembleBounds(d)
	}

	return ensembleCondition{}, false
}

// ensembleColumn is the expression FerretDB's registry indexes a top-level field with.
func ensembleColumn(field string) string {
	if field == "_id" {
		return metadata.IDColumn
	}

	return fmt.Sprintf("%s->%q", metadata.DefaultColumn, field)
}

// ensembleSchemaType is the SQL expression for a top-level field's sjson type ("string", "array", ...), NULL
// when the document has no such field.
func ensembleSchemaType(field string) string {
	return metadata.EnsembleSchemaType(field)
}

func ensemblePlaceholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ensembleMatch is an FTS5 query for the side table matching any (or all) of the values, as phrases; false
// when a value has no word the tokenizer would index (the side table cannot be asked for it).
func ensembleMatch(c ensembleCondition) (string, bool) {
	phrases := make([]string, 0, len(c.vals))

	for _, v := range c.vals {
		if v.typ != "string" && v.typ != "objectId" {
			return "", false
		}

		if !strings.ContainsFunc(v.raw, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			return "", false
		}

		phrases = append(phrases, `"`+strings.ReplaceAll(v.raw, `"`, `""`)+`"`)
	}

	if c.all {
		return strings.Join(phrases, " AND "), true
	}

	return strings.Join(phrases, " OR "), true
}

// ensembleArrays is the SQL condition (and its arguments) selecting, through an index, the documents whose
// `field` is an array that may satisfy `c`: from the side table when there is one, else every array value.
// ensembleSideMatch is the condition that reads the documents holding a value in an array from the field's side
// table of array elements (ensemble_multikey.go); ensembleNotDriving rewrites it so that SQLite only tests it.
const ensembleSideMatch = "rowid IN (SELECT rowid FROM %[1]q WHERE %[1]q MATCH ?)"

// ensembleNotDriving keeps SQLite from reading the matches of a WHERE clause from array side tables (a unary
// `+` makes the rowid no index constraint): another equality of the filter reads fewer (ensembleWalks). SQLite
// otherwise takes the side table's list for the cheaper source, whatever its length: a common search word
// read 10,000 files to find the 200 of a person's groups.
func ensembleNotDriving(where string) string {
	return strings.ReplaceAll(where, "(rowid IN (SELECT rowid FROM ", "(+rowid IN (SELECT rowid FROM ")
}

func ensembleArrays(meta *metadata.Collection, field string, c ensembleCondition) (string, []any) {
	if side, ok := metadata.EnsembleMultikeyTable(meta.TableName, field); ok {
		if m, ok := ensembleMatch(c); ok {
			return fmt.Sprintf(ensembleSideMatch, side), []any{m}
		}
	}

	return fmt.Sprintf(`(%[1]s >= '[' AND %[1]s < '\')`, ensembleColumn(field)), nil
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

	candidates := make(map[string]ensembleCondition, len(keys))

	for i, k := range keys {
		if seen[k] != 1 || !ensembleFieldName.MatchString(k) {
			continue
		}

		c, ok := ensembleParse(values[i])
		if !ok || len(c.bounds) > 0 {
			continue
		}

		// `$in: []` matches nothing.
		if len(c.vals) == 0 {
			return " WHERE 0", nil
		}

		pushable := true
		for _, v := range c.vals {
			if v.typ == "null" {
				pushable = false
			}
		}

		if pushable {
			candidates[k] = c
		}
	}

	if len(candidates) == 0 {
		return "", nil
	}

	scalars := func(c ensembleCondition) []any {
		res := make([]any, len(c.vals))
		for i, v := range c.vals {
			res[i] = v.json
		}

		return res
	}

	// An `_id` is never an array: its index answers exactly.
	if c, ok := candidates["_id"]; ok {
		return fmt.Sprintf(" WHERE %s IN (%s)", metadata.IDColumn, ensemblePlaceholders(len(c.vals))), scalars(c)
	}

	// The index to serve the filter: a unique one first, then the one with most of its leading fields given,
	// then the first declared.
	best, bestScore := "", -1

	for _, index := range meta.Settings.Indexes {
		if len(index.Key) == 0 || metadata.EnsembleOrdered(index) {
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

	c := candidates[best]
	arrays, arrayArgs := ensembleArrays(meta, best, c)
	where := fmt.Sprintf(" WHERE (%s IN (%s) OR %s)", ensembleColumn(best), ensemblePlaceholders(len(c.vals)), arrays)

	return where, append(scalars(c), arrayArgs...)
}

// ensembleExactCondition is the SQL condition that holds exactly for the documents whose top-level `field`
// satisfies `c` as MongoDB compares: the value itself (of the same type), or an array holding it (or them all).
// With noArrays (no array of the collection holds the values, as its side table says), only the value itself;
// with noScalars (no document holds them as the value itself, as the field's index says), only the arrays,
// tested first through the side table, which needs no read of the document.
func ensembleExactCondition(meta *metadata.Collection, field string, c ensembleCondition, noArrays, noScalars bool) (string, []any) {
	col := ensembleColumn(field)
	typ := ensembleSchemaType(field)

	if len(c.bounds) > 0 {
		// The value of that type within every bound, or an array with, for each bound, an element of that type
		// within it (MongoDB lets different elements meet different bounds).
		value := fmt.Sprintf("%s->>'$.%s'", metadata.DefaultColumn, field)
		var scalar, elems []string
		var args, elemArgs []any

		for _, b := range c.bounds {
			scalar = append(scalar, fmt.Sprintf("%s %s ?", value, b.op))
			args = append(args, b.arg)
			elems = append(elems, fmt.Sprintf(
				`EXISTS (SELECT 1 FROM json_each(%[1]s, '$.%[2]s') AS je WHERE je.value %[3]s ? AND json_extract(%[1]s, '$."$s".p.%[2]s.i[' || je.key || '].t') = '%[4]s')`,
				metadata.DefaultColumn, field, b.op, b.typ,
			))
			elemArgs = append(elemArgs, b.arg)
		}

		cond := fmt.Sprintf("(%s = '%s' AND %s)", typ, c.bounds[0].typ, strings.Join(scalar, " AND "))
		if field != "_id" {
			cond = fmt.Sprintf("(%s OR (%s = 'array' AND %s))", cond, typ, strings.Join(elems, " AND "))
			args = append(args, elemArgs...)
		}

		return cond, args
	}

	elemMatch := func(v ensembleScalar) (string, []any) {
		switch v.typ {
		case "null":
			return "je.type = 'null'", nil
		case "bool":
			return fmt.Sprintf("je.type = '%s'", v.json), nil
		default:
			return fmt.Sprintf(
				`(je.type = 'text' AND je.value = ? AND json_extract(%s, '$."$s".p.%s.i[' || je.key || '].t') = '%s')`,
				metadata.DefaultColumn, field, v.typ,
			), []any{v.raw}
		}
	}
	exists := func(conds []string) string {
		return fmt.Sprintf(
			`EXISTS (SELECT 1 FROM json_each(%s, '$.%s') AS je WHERE %s)`,
			metadata.DefaultColumn, field, strings.Join(conds, " OR "),
		)
	}

	var scalar []string
	var args []any

	scalarOf := func(v ensembleScalar) {
		switch v.typ {
		case "null":
			// A missing field, or null.
			scalar = append(scalar, fmt.Sprintf("%s IS NULL OR %s = 'null'", col, col))
		case "bool":
			scalar = append(scalar, fmt.Sprintf("(%s = '%s' AND %s = 'bool')", col, v.json, typ))
		default:
			scalar = append(scalar, fmt.Sprintf("(%s = ? AND %s = '%s')", col, typ, v.typ))
			args = append(args, v.json)
		}
	}

	var arrayTests []string
	var arrayArgs []any

	if c.all {
		// A scalar holds them all only when they are all the same value.
		same := true
		for _, v := range c.vals[1:] {
			if v != c.vals[0] {
				same = false
			}
		}

		if same {
			scalarOf(c.vals[0])
		}

		for _, v := range c.vals {
			m, a := elemMatch(v)
			arrayTests = append(arrayTests, exists([]string{m}))
			arrayArgs = append(arrayArgs, a...)
		}
	} else {
		var elems []string

		for _, v := range c.vals {
			scalarOf(v)

			m, a := elemMatch(v)
			elems = append(elems, m)
			arrayArgs = append(arrayArgs, a...)
		}

		arrayTests = []string{exists(elems)}
	}

	if field == "_id" || noArrays {
		// An _id is never an array.
		if len(scalar) == 0 {
			return "0", nil
		}

		return "(" + strings.Join(scalar, " OR ") + ")", args
	}

	arrays, selectArgs := ensembleArrays(meta, field, c)
	array := fmt.Sprintf("(%s AND %s = 'array' AND %s)", arrays, typ, strings.Join(arrayTests, " AND "))

	if noScalars {
		return array, append(selectArgs, arrayArgs...)
	}

	args = append(args, selectArgs...)
	args = append(args, arrayArgs...)

	return "(" + strings.Join(append(scalar, array), " OR ") + ")", args
}

// ensembleNoScalars tells whether no document holds the values of `c` as `field` itself (not in an array):
// the field leads an index, and a probe of it finds none of their JSON texts (a superset of the scalar
// matches: an ObjectId and a string of the same hex share one).
func ensembleNoScalars(ctx context.Context, db *fsql.DB, meta *metadata.Collection, field string, c ensembleCondition) bool {
	if field == "_id" || len(c.vals) == 0 || len(c.bounds) > 0 {
		return false
	}

	if _, ok := metadata.EnsembleMultikeyTable(meta.TableName, field); !ok {
		return false
	}

	vals := make([]any, len(c.vals))

	for i, v := range c.vals {
		if v.typ != "string" && v.typ != "objectId" {
			return false
		}

		vals[i] = v.json
	}

	q := fmt.Sprintf("SELECT 1 FROM %q WHERE %s IN (%s) LIMIT 1", meta.TableName, ensembleColumn(field), ensemblePlaceholders(len(vals)))

	return ensembleNone(ctx, db, q, vals...)
}

// ensembleSortable are the sjson types whose SQL order (by ensembleRank, then the SQL value) is BSON's.
// Doubles are left out (NaN), and so are documents, arrays and everything rarer.
var ensembleSortable = []string{"'null'", "'int'", "'long'", "'string'", "'objectId'", "'bool'", "'date'"}

// ensembleRank orders a field's types as BSON does: null and missing, numbers, strings, ObjectIds, booleans,
// dates (ensemble_ordered.go).
func ensembleRank(field string) string {
	return metadata.EnsembleRank(field)
}

// ensembleNoArrays tells whether no array value of `field` in the collection can hold the values of `c`: its
// side table (complete, maintained with every write) has no row matching them. The side table's match is a
// superset of the arrays holding them, so "none" is certain. Then the condition needs no array branch, and
// SQLite, left with one indexed equality per field instead of an OR of an index and the side table, picks
// the index it should (docs/adr/0013-index-served-filters.md, "Exact reads").
func ensembleNoArrays(ctx context.Context, db *fsql.DB, meta *metadata.Collection, field string, c ensembleCondition) bool {
	if field == "_id" {
		return false
	}

	side, ok := metadata.EnsembleMultikeyTable(meta.TableName, field)
	if !ok {
		return false
	}

	m, ok := ensembleMatch(c)
	if !ok {
		return false
	}

	return ensembleNone(ctx, db, fmt.Sprintf("SELECT 1 FROM %[1]q WHERE %[1]q MATCH ? LIMIT 1", side), m)
}

// ensembleNone tells whether a query (`SELECT 1 ... LIMIT 1`) answers no row, without an error.
func ensembleNone(ctx context.Context, db *fsql.DB, q string, args ...any) bool {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return false
	}

	found := rows.Next()
	err = rows.Err()
	_ = rows.Close()

	return err == nil && !found
}

// ensembleExact returns the clauses (WHERE, ORDER BY, LIMIT) selecting exactly the documents `filter` matches,
// sorted as `sort` sorts them, the first `limit` of them, when they can be had; ok is false otherwise (the
// caller then reads the superset of ensembleWhere, unlimited). The sort fields of the matching documents must
// hold only types whose SQL order is BSON's: an ordered index of the sort field tells at once for the whole
// collection, else SQLite is asked about the matching documents. With an ordered index, a page of many
// matches is read by walking it (ensembleWalk).
func ensembleExact(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, sort *types.Document, limit int64) (string, []any, bool) {
	if db == nil || meta == nil || meta.Capped() || filter.Len() == 0 {
		return "", nil, false
	}

	keys := filter.Keys()
	values := filter.Values()
	seen := make(map[string]bool, len(keys))
	parsed := make(map[string]ensembleCondition, len(keys))
	pinned := make(map[string]int, len(keys))

	var conds, firstConds, condKeys, firstKeys []string
	var args, firstArgs []any
	condArgs := make(map[string][]any, len(keys))

	for i, k := range keys {
		if seen[k] || !ensembleFieldName.MatchString(k) {
			return "", nil, false
		}

		seen[k] = true

		c, ok := ensembleParse(values[i])
		if !ok {
			return "", nil, false
		}

		parsed[k] = c

		if len(c.vals) == 0 && len(c.bounds) == 0 {
			conds = append(conds, "0")
			condKeys = append(condKeys, k)

			continue
		}

		noArrays := len(c.bounds) == 0 && ensembleNoArrays(ctx, db, meta, k, c)
		noScalars := !noArrays && ensembleNoScalars(ctx, db, meta, k, c)
		// Values of types the field's index holds by their JSON text, compared alone: an index prefix (one value
		// pins it).
		pinned[k] = 0
		if noArrays && len(c.vals) > 0 && !c.all {
			pinned[k] = len(c.vals)
			for _, v := range c.vals {
				if v.typ != "string" && v.typ != "objectId" {
					pinned[k] = 0
				}
			}
		}

		cond, a := ensembleExactCondition(meta, k, c, noArrays, noScalars)
		condArgs[k] = a

		if noScalars {
			// Tested first: a document that fails it is never read (SQLite tests the conditions in order).
			firstConds = append(firstConds, cond)
			firstArgs = append(firstArgs, a...)
			firstKeys = append(firstKeys, k)

			continue
		}

		conds = append(conds, cond)
		args = append(args, a...)
		condKeys = append(condKeys, k)
	}

	conds = append(firstConds, conds...)
	args = append(firstArgs, args...)
	condKeys = append(firstKeys, condKeys...)
	where := " WHERE " + strings.Join(conds, " AND ")

	// The WHERE clause with the condition on `key` replaced by equality to one value (of a `$in` that no array
	// holds), and its arguments.
	whereWith := func(key string, v ensembleScalar) (string, []any) {
		parts := make([]string, len(conds))
		var a []any

		for i, k := range condKeys {
			if k == key {
				cond, ca := ensembleExactCondition(meta, k, ensembleCondition{vals: []ensembleScalar{v}}, true, false)
				parts[i] = cond
				a = append(a, ca...)

				continue
			}

			parts[i] = conds[i]
			if conds[i] != "0" {
				a = append(a, condArgs[k]...)
			}
		}

		return " WHERE " + strings.Join(parts, " AND "), a
	}

	var order, guard []string

	for i, k := range sort.Keys() {
		if !ensembleFieldName.MatchString(k) {
			return "", nil, false
		}

		dir, ok := sort.Values()[i].(int64)
		if !ok || (dir != 1 && dir != -1) {
			return "", nil, false
		}

		desc := ""
		if dir == -1 {
			desc = " DESC"
		}

		order = append(order, ensembleRank(k)+desc, metadata.EnsembleValue(k)+desc)
		guard = append(guard, fmt.Sprintf("%s NOT IN (%s)", ensembleSchemaType(k), strings.Join(ensembleSortable, ", ")))
	}

	orderBy := ""
	if len(order) > 0 {
		orderBy = " ORDER BY " + strings.Join(order, ", ")
	}

	// Counted once, when a choice needs it.
	var estimated, walks bool
	var fewest string
	estimate := func() bool {
		if !estimated {
			walks, fewest = ensembleWalks(ctx, db, meta, parsed, limit)
			estimated = true
		}

		return walks
	}

	// The matches read from the index that finds the fewest: a search word's side table only when it does.
	driven := func(where string) string {
		if len(firstKeys) == 0 {
			return where
		}

		estimate()

		if fewest == "" || slices.Contains(firstKeys, fewest) {
			return where
		}

		return ensembleNotDriving(where)
	}

	if index, mode := ensembleOrderedIndex(ctx, db, meta, sort, pinned, where, args); mode != ensembleNoWalk {
		field, dir := sort.Keys()[0], sort.Values()[0].(int64)

		if mode == ensembleWalkWithin || (mode == ensembleWalkAll && estimate()) {
			return ensembleWalk(index, field, dir, parsed[field], where, orderBy, args, limit)
		}

		// A search word (tested first: firstKeys) may be rare, and a walk would then read whole groups.
		if mode == ensembleSortClean && (len(firstKeys) == 0 || estimate()) {
			if key, ok := ensembleSplitKey(meta, index, pinned); ok {
				// One walk within each value of the `$in`, each at most a page; the page is the first of them all.
				var walks []string
				var walkArgs []any

				for _, v := range parsed[key].vals {
					w, a := whereWith(key, v)
					clauses, a, _ := ensembleWalk(index, field, dir, parsed[field], w, orderBy, a, limit)
					walks = append(walks, fmt.Sprintf("SELECT rowid FROM (SELECT rowid FROM %q%s)", meta.TableName, clauses))
					walkArgs = append(walkArgs, a...)
				}

				return " WHERE rowid IN (" + strings.Join(walks, " UNION ALL ") + ")" + orderBy + " LIMIT ?", append(walkArgs, limit), true
			}
		}

		return driven(where) + orderBy + " LIMIT ?", append(args, limit), true
	}

	if len(guard) > 0 {
		q := fmt.Sprintf("SELECT 1 FROM %q%s AND (%s) LIMIT 1", meta.TableName, where, strings.Join(guard, " OR "))
		if !ensembleNone(ctx, db, q, args...) {
			return "", nil, false
		}
	}

	return driven(where) + orderBy + " LIMIT ?", append(args, limit), true
}

// What an ordered index lets a sorted page do (ensembleOrderedIndex).
const (
	// No ordered index serves the sort, or a value of an unsortable type is there.
	ensembleNoWalk = iota
	// Walk the index within the filter's equality on the keys before the sort key: only the page is read.
	ensembleWalkWithin
	// Walk the index of the sort key alone, if the matches are many (ensembleWalks).
	ensembleWalkAll
	// The filter's `$in` on the keys before the sort key reads its matches from the index; they are sorted,
	// and known to hold no unsortable value.
	ensembleSortClean
)

// ensembleOrderedIndex returns an ordered index (ensemble_ordered.go) of the one sort key, and what it lets
// the page do: one whose keys before the sort key are each given by the filter (one value: the walk reads
// only the page; several: their matches need no check of their types), else one of the sort key alone. The
// documents it would read (all of them, or those of the equality) must hold no value of an unsortable type
// there: one probe of the index.
func ensembleOrderedIndex(ctx context.Context, db *fsql.DB, meta *metadata.Collection, sort *types.Document, pinned map[string]int, where string, args []any) (string, int) {
	if sort.Len() != 1 {
		return "", ensembleNoWalk
	}

	field := sort.Keys()[0]

	var single, compound *metadata.IndexInfo
	within := false

	for i, index := range meta.Settings.Indexes {
		if !metadata.EnsembleOrdered(index) || metadata.EnsembleOrderedKey(index) != field {
			continue
		}

		if len(index.Key) == 1 {
			single = &meta.Settings.Indexes[i]
			continue
		}

		given, one := true, true
		for _, key := range index.Key[:len(index.Key)-1] {
			given = given && pinned[key.Field] > 0
			one = one && pinned[key.Field] == 1
		}

		if given && (compound == nil || (one && !within)) {
			compound, within = &meta.Settings.Indexes[i], one
		}
	}

	probe := func(index *metadata.IndexInfo, clause string, args []any) bool {
		q := fmt.Sprintf("SELECT 1 FROM %q INDEXED BY %q %s %s = %d LIMIT 1", meta.TableName, meta.TableName+"_"+index.Name, clause, ensembleRank(field), metadata.EnsembleOrderedUnsortable)

		return ensembleNone(ctx, db, q, args...)
	}

	if compound != nil && probe(compound, where+" AND", args) {
		if within {
			return meta.TableName + "_" + compound.Name, ensembleWalkWithin
		}

		return meta.TableName + "_" + compound.Name, ensembleSortClean
	}

	if single != nil && probe(single, "WHERE", nil) {
		return meta.TableName + "_" + single.Name, ensembleWalkAll
	}

	return "", ensembleNoWalk
}

// ensembleSplitMax is the most values of a `$in` whose walks are read one by one (ensembleSplitKey).
const ensembleSplitMax = 64

// ensembleSplitKey returns the one key of an ordered index's equality prefix that the filter gives several
// values of (at most ensembleSplitMax), when the other keys are each given one: a walk within each value
// reads at most a page.
func ensembleSplitKey(meta *metadata.Collection, index string, pinned map[string]int) (string, bool) {
	for _, info := range meta.Settings.Indexes {
		if meta.TableName+"_"+info.Name != index || len(info.Key) < 2 {
			continue
		}

		split := ""

		for _, key := range info.Key[:len(info.Key)-1] {
			switch n := pinned[key.Field]; {
			case n == 1:
			case n > 1 && n <= ensembleSplitMax && split == "":
				split = key.Field
			default:
				return "", false
			}
		}

		return split, split != ""
	}

	return "", false
}

// ensembleWalks tells whether a page of `limit` is cheaper read by walking the sort's ordered index (about
// limit × rows / matches rows) than by reading every match and sorting them (about matches rows): whether the
// matches are at least sqrt(limit × rows). The matches are estimated from above, by the fewest values any
// indexed equality of the filter finds, counted in its index (and its side table of arrays) up to that many.
// It also returns that equality's field (the one an index should read the matches from), "" when none was
// counted.
func ensembleWalks(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter map[string]ensembleCondition, limit int64) (bool, string) {
	var rows int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT coalesce(max(rowid), 0) FROM %q", meta.TableName)).Scan(&rows); err != nil {
		return false, ""
	}

	enough := int64(math.Ceil(math.Sqrt(float64(limit) * float64(rows))))

	count := func(q string, args ...any) int64 {
		var n int64
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (%s LIMIT %d)", q, enough), args...).Scan(&n); err != nil {
			return enough
		}

		return n
	}

	walks := true
	fewest, least := "", int64(-1)

	// Fields in a fixed order, so that equal counts choose the same field every time.
	fields := make([]string, 0, len(filter))
	for field := range filter {
		fields = append(fields, field)
	}

	slices.Sort(fields)

	for _, field := range fields {
		c := filter[field]
		if len(c.bounds) > 0 || len(c.vals) == 0 {
			continue
		}

		pushable := true
		for _, v := range c.vals {
			if v.typ != "string" && v.typ != "objectId" {
				pushable = false
			}
		}

		if !pushable {
			continue
		}

		var n int64

		if field == "_id" {
			n = int64(len(c.vals))
		} else {
			indexed := false
			for _, index := range meta.Settings.Indexes {
				if len(index.Key) > 0 && !metadata.EnsembleOrdered(index) && index.Key[0].Field == field {
					indexed = true
				}
			}

			if !indexed {
				continue
			}

			vals := make([]any, len(c.vals))
			for i, v := range c.vals {
				vals[i] = v.json
			}

			col := ensembleColumn(field)
			n = count(fmt.Sprintf("SELECT 1 FROM %q WHERE %s IN (%s)", meta.TableName, col, ensemblePlaceholders(len(vals))), vals...)

			if side, ok := metadata.EnsembleMultikeyTable(meta.TableName, field); ok {
				m, ok := ensembleMatch(c)
				if !ok {
					continue
				}

				n += count(fmt.Sprintf("SELECT 1 FROM %[1]q WHERE %[1]q MATCH ?", side), m)
			} else {
				n += count(fmt.Sprintf(`SELECT 1 FROM %[1]q WHERE %[2]s >= '[' AND %[2]s < '\'`, meta.TableName, col))
			}
		}

		if n < enough {
			walks = false
		}

		if least < 0 || n < least {
			fewest, least = field, n
		}
	}

	return walks, fewest
}

// ensembleWalk is the clauses of a page read by walking an ordered index in the sort's order: SQLite tests
// each document against the filter as it comes and stops at the page's end. Bounds of the filter on the sort
// field itself (the cursor of the next page) are also written as a range of the index, so the walk starts
// there. No document holds an unsortable value there (ensembleOrderedIndex), so no array can match them.
func ensembleWalk(index, field string, dir int64, c ensembleCondition, where, orderBy string, args []any, limit int64) (string, []any, bool) {
	var ranges []string
	var rangeArgs []any

	for _, b := range c.bounds {
		ranges = append(ranges, fmt.Sprintf("%s %s ?", metadata.EnsembleValue(field), b.op))
		rangeArgs = append(rangeArgs, b.arg)
	}

	if len(ranges) > 0 {
		// The bounds hold values of one type only: its rank is constant, and SQLite walks the index in the
		// order of the value alone (it would sort the rest of the index if the ORDER BY named the rank).
		where += fmt.Sprintf(" AND %s = %d AND %s", ensembleRank(field), metadata.EnsembleRankOf(c.bounds[0].typ), strings.Join(ranges, " AND "))

		orderBy = " ORDER BY " + metadata.EnsembleValue(field)
		if dir == -1 {
			orderBy += " DESC"
		}
	}

	return fmt.Sprintf(" INDEXED BY %q", index) + where + orderBy + " LIMIT ?", append(append(args, rangeArgs...), limit), true
}

// ensembleClauses is what Query and Explain append after SELECT ... FROM: the exact WHERE, ORDER BY and LIMIT
// when a limited find can be served that way, the superset WHERE otherwise.
func ensembleClauses(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, exactFilter, sort *types.Document, limit int64) (string, []any, bool) {
	ensembleOptimize(db)

	if limit > 0 {
		if clauses, args, ok := ensembleExact(ctx, db, meta, exactFilter, sort, limit); ok {
			return clauses, args, true
		}
	}

	where, args := ensembleWhere(meta, filter)

	return where, args, false
}

// ensembleOptimizeEvery is how often a database that is being read has its planner statistics refreshed: a
// minute, or the duration in ENSEMBLE_SQLITE_OPTIMIZE_EVERY (tests shorten it).
var ensembleOptimizeEvery = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("ENSEMBLE_SQLITE_OPTIMIZE_EVERY")); err == nil && d > 0 {
		return d
	}

	return time.Minute
}()

// ensembleOptimized records when each database last had `PRAGMA optimize` run: *fsql.DB -> *atomic time.
var ensembleOptimized sync.Map

// ensembleOptimize keeps SQLite's planner statistics (sqlite_stat1) current, at most once a minute per
// database and only while it is read, in the background. Without them SQLite takes an equality on any index
// for a selective one: it read every active person through the `status` index to find the few named
// "Sophie" (a hundred milliseconds at 5,000 people, seconds at 50,000). `PRAGMA optimize` analyzes only the
// tables never analyzed or grown or shrunk tenfold since, each within `analysis_limit` (set on every
// connection by Ensemble's `--sqlite-url`), so a run costs milliseconds (docs/adr/0013-index-served-filters.md,
// "Planner statistics").
func ensembleOptimize(db *fsql.DB) {
	if db == nil {
		return
	}

	now := time.Now()
	v, loaded := ensembleOptimized.LoadOrStore(db, &ensembleStamp{at: now})
	stamp := v.(*ensembleStamp)

	if loaded {
		stamp.mu.Lock()
		due := now.Sub(stamp.at) >= ensembleOptimizeEvery
		if due {
			stamp.at = now
		}
		stamp.mu.Unlock()

		if !due {
			return
		}
	}

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		_, _ = db.ExecContext(ctx, "PRAGMA optimize=0x10002")
	}()
}

// ensembleStamp is when a database's statistics were last refreshed.
type ensembleStamp struct {
	mu sync.Mutex
	at time.Time
}
