// Ensemble's filter pushdown for FerretDB's PostgreSQL backend (docs/adr/0026-postgresql-index-served-filters.md).
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB 1.24's
// PostgreSQL backend creates a btree index on `(_jsonb->'field')` for every index key, but writes equality as
// `_jsonb->'field' @> $1`, which a btree cannot serve, and does not push `$in` at all: every read scanned the
// table, `_id` lookups included (FerretDB issue #4646). Here a filter's top-level equality, `$in` or `$all` of
// strings, ObjectIds or booleans, on `_id` or on a field of one of the collection's indexes, becomes a
// condition written with the index's own expression (`_jsonb->'field' = ANY(...)`), and, for array values,
// one that the field's array index serves (scripts/ferretdb/ensemble_pg_multikey.go), so PostgreSQL answers
// from its indexes.
// Whatever else the filter says is pushed as FerretDB pushes it.
//
// The WHERE clause (ensembleWhere) only ever selects a superset of the documents the filter matches: every
// command filters what the backend returns again with the whole filter (which is why FerretDB can turn
// pushdown off). So:
//   - only strings, ObjectIds and booleans are pushed this way (sjson writes an ObjectId as the JSON string of
//     its hex; both select the same rows and the filter tells them apart). jsonb equality of strings is
//     byte equality whatever the database's collation;
//   - a field's value may be an array holding the value, so array values are selected as well: through the
//     field's array index when it has one, else every non-empty array value (in jsonb's btree order, arrays
//     sort after booleans and before objects; an empty top-level array sorts before null, and never equals a
//     value) through a range on the same btree;
//   - anything else (null, numbers, dates, operators, dotted paths, duplicate keys, odd field names, strings
//     holding NUL or invalid UTF-8) is left to FerretDB's own pushdown.
//
// A find with a limit can also have its sort and limit served by PostgreSQL (ensembleExact), but only when the
// whole filter translates into a WHERE clause that selects exactly the matching documents, type by type, and
// the sort fields of those documents hold only types whose order this file writes as BSON's. The handler
// filters, sorts and limits the rows again, so the rows returned only need to contain the true first ones.

package postgresql

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/FerretDB/FerretDB/internal/backends/postgresql/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
)

// ensembleMaxIn is the most values one pushed `$in` or `$all` may hold.
const ensembleMaxIn = 1000

// ensembleFieldName is what a pushed field's name may be: it is written into the SQL text as the index is.
var ensembleFieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ensembleValue is one value a filter compares with: its sjson text and its sjson type.
type ensembleValue struct {
	json string
	typ  string
}

// ensembleBound is one comparison (exact mode only): an SQL operator, the value as text (a string, an
// ObjectId's hex, a date's milliseconds) and its sjson type.
type ensembleBound struct {
	op  string
	arg string
	typ string
}

// ensembleCondition is a field's condition: equal to one of vals (`v`, `$eq`, `$in`), holding all of them
// (`$all`), or within bounds (`$gt`, `$gte`, `$lt`, `$lte` of strings, ObjectIds or dates).
type ensembleCondition struct {
	vals   []ensembleValue
	all    bool
	bounds []ensembleBound
}

var ensembleBoundOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// ensembleText reports whether a string can be compared in PostgreSQL as it is (jsonb and text hold no NUL;
// Go would write invalid UTF-8 as U+FFFD).
func ensembleText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func ensembleOne(x any) (ensembleValue, bool) {
	switch x := x.(type) {
	case string:
		if !ensembleText(x) {
			return ensembleValue{}, false
		}

		b, err := sjson.MarshalSingleValue(x)
		if err != nil {
			return ensembleValue{}, false
		}

		return ensembleValue{json: string(b), typ: "string"}, true
	case types.ObjectID:
		b, err := sjson.MarshalSingleValue(x)
		if err != nil {
			return ensembleValue{}, false
		}

		return ensembleValue{json: string(b), typ: "objectId"}, true
	case bool:
		if x {
			return ensembleValue{json: "true", typ: "bool"}, true
		}

		return ensembleValue{json: "false", typ: "bool"}, true
	case types.NullType:
		return ensembleValue{json: "null", typ: "null"}, true
	default:
		return ensembleValue{}, false
	}
}

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
			if !ensembleText(x) {
				return ensembleCondition{}, false
			}

			b = ensembleBound{op: op, arg: x, typ: "string"}
		case types.ObjectID:
			b = ensembleBound{op: op, arg: fmt.Sprintf("%x", x[:]), typ: "objectId"}
		case time.Time:
			b = ensembleBound{op: op, arg: strconv.FormatInt(x.UnixMilli(), 10), typ: "date"}
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

// ensembleParse returns the condition `v` states for a field, or false if it states anything else.
func ensembleParse(v any) (ensembleCondition, bool) {
	if s, ok := ensembleOne(v); ok {
		return ensembleCondition{vals: []ensembleValue{s}}, true
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
			return ensembleCondition{vals: []ensembleValue{s}}, true
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

// ensembleCol is the expression FerretDB's registry indexes a top-level field with.
func ensembleCol(field string) string {
	return fmt.Sprintf("(%s->'%s')", metadata.DefaultColumn, field)
}

// ensembleType is the SQL expression for a top-level field's sjson type ("string", "array", ...), NULL when
// the document has no such field.
func ensembleType(field string) string {
	return fmt.Sprintf("(%s #>> '{$s,p,%s,t}')", metadata.DefaultColumn, field)
}

// ensembleArgs writes placeholders (cast to `cast`) for values and appends the values to args.
func ensembleArgs(ph *metadata.Placeholder, args *[]any, cast string, values ...string) string {
	res := make([]string, len(values))

	for i, v := range values {
		res[i] = ph.Next() + "::" + cast
		*args = append(*args, v)
	}

	return strings.Join(res, ", ")
}

// ensembleIndexed returns the top-level fields of a collection's indexes, `_id` among them.
func ensembleIndexed(meta *metadata.Collection) map[string]bool {
	indexed := map[string]bool{"_id": true}

	for _, index := range meta.Indexes {
		for _, key := range index.Key {
			indexed[key.Field] = true
		}
	}

	return indexed
}

// ensembleContains is the containment condition for the array values that may satisfy `c`: holding one of
// the values, or all of them for `$all`. The field's array index serves it.
func ensembleContains(ph *metadata.Placeholder, args *[]any, field string, c ensembleCondition) string {
	col := ensembleCol(field)

	if c.all {
		jsons := make([]string, len(c.vals))
		for i, v := range c.vals {
			jsons[i] = v.json
		}

		return fmt.Sprintf("%s @> %s", col, ensembleArgs(ph, args, "jsonb", "["+strings.Join(jsons, ",")+"]"))
	}

	arrays := make([]string, len(c.vals))
	for i, v := range c.vals {
		arrays[i] = "[" + v.json + "]"
	}

	return fmt.Sprintf("%s @> ANY(ARRAY[%s])", col, ensembleArgs(ph, args, "jsonb", arrays...))
}

// ensembleArrays is the condition selecting, from an index, the documents whose `field` is an array that
// may satisfy `c`: from the field's array index when it has one, else every non-empty array value.
func ensembleArrays(ph *metadata.Placeholder, args *[]any, schema string, meta *metadata.Collection, field string, c ensembleCondition) string {
	col := ensembleCol(field)

	if !metadata.EnsembleMultikey(schema, meta.TableName, field) {
		return fmt.Sprintf("(%[1]s > 'true'::jsonb AND %[1]s < '{}'::jsonb)", col)
	}

	return fmt.Sprintf("(jsonb_typeof(%s) = 'array' AND %s)", col, ensembleContains(ph, args, field, c))
}

// ensembleHexLike reports whether a value of `c` is written as an ObjectId would be (24 hexadecimal digits).
func ensembleHexLike(c ensembleCondition) bool {
	for _, v := range c.vals {
		if ensembleHex.MatchString(v.json) {
			return true
		}
	}

	return false
}

// ensembleHex is an ObjectId's JSON.
var ensembleHex = regexp.MustCompile(`^"[0-9a-f]{24}"$`)

// ensembleSame reports whether all the values are one value (a scalar can hold `$all` of them only then).
func ensembleSame(c ensembleCondition) bool {
	for _, v := range c.vals[1:] {
		if v != c.vals[0] {
			return false
		}
	}

	return true
}

// ensembleWhere returns a WHERE clause (with a leading space) and its arguments that select a superset of the
// documents `filter` matches, served by indexes where the filter names an indexed field; what it does not
// handle is pushed by FerretDB's own prepareWhereClause.
func ensembleWhere(ph *metadata.Placeholder, schema string, meta *metadata.Collection, filter *types.Document) (string, []any, error) {
	if meta == nil || filter.Len() == 0 {
		return prepareWhereClause(ph, filter)
	}

	indexed := ensembleIndexed(meta)
	keys := filter.Keys()
	values := filter.Values()

	seen := make(map[string]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}

	var conds, handled []string
	var args []any

	for i, k := range keys {
		if seen[k] != 1 || !ensembleFieldName.MatchString(k) || !indexed[k] {
			continue
		}

		c, ok := ensembleParse(values[i])
		if !ok || len(c.bounds) > 0 {
			continue
		}

		// `$in: []` matches nothing.
		if len(c.vals) == 0 {
			return " WHERE FALSE", nil, nil
		}

		pushable := !(k == "_id" && c.all)
		for _, v := range c.vals {
			if v.typ == "null" {
				pushable = false
			}
		}

		if !pushable {
			continue
		}

		col := ensembleCol(k)

		var parts []string

		if !c.all || ensembleSame(c) {
			jsons := make([]string, len(c.vals))
			for j, v := range c.vals {
				jsons[j] = v.json
			}

			if c.all {
				jsons = jsons[:1]
			}

			parts = append(parts, fmt.Sprintf("%s = ANY(ARRAY[%s])", col, ensembleArgs(ph, &args, "jsonb", jsons...)))
		}

		// An `_id` is never an array.
		if k != "_id" {
			parts = append(parts, ensembleArrays(ph, &args, schema, meta, k, c))
		}

		conds = append(conds, "("+strings.Join(parts, " OR ")+")")
		handled = append(handled, k)
	}

	if len(handled) == 0 {
		return prepareWhereClause(ph, filter)
	}

	rest := filter.DeepCopy()
	for _, k := range handled {
		rest.Remove(k)
	}

	restWhere, restArgs, err := prepareWhereClause(ph, rest)
	if err != nil {
		return "", nil, err
	}

	if restWhere != "" {
		conds = append(conds, strings.TrimPrefix(restWhere, " WHERE "))
		args = append(args, restArgs...)
	}

	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// ensembleElems is an EXISTS over the elements of an array `field` (e.v the element, e.t its sjson type).
func ensembleElems(field, cond string) string {
	return fmt.Sprintf(
		`EXISTS (SELECT 1 FROM (SELECT x.v, %[1]s #>> ARRAY['$s', 'p', '%[2]s', 'i', (x.n - 1)::text, 't'] AS t `+
			`FROM jsonb_array_elements(%[3]s) WITH ORDINALITY AS x(v, n)) AS e WHERE %[4]s)`,
		metadata.DefaultColumn, field, ensembleCol(field), cond,
	)
}

// ensembleExactCondition is the SQL condition that holds exactly for the documents whose top-level `field`
// satisfies `c` as MongoDB compares: the value itself (of the same type), or an array holding it (or them all).
func ensembleExactCondition(ph *metadata.Placeholder, args *[]any, schema string, meta *metadata.Collection, field string, c ensembleCondition) string {
	col := ensembleCol(field)
	typ := ensembleType(field)
	isArray := fmt.Sprintf("jsonb_typeof(%s) = 'array'", col)

	if len(c.bounds) > 0 {
		// The value of that type within every bound, or an array with, for each bound, an element of that type
		// within it (MongoDB lets different elements meet different bounds).
		var scalar, elems []string

		for _, b := range c.bounds {
			if b.typ == "date" {
				scalar = append(scalar, fmt.Sprintf("%s %s %s", col, b.op, ensembleArgs(ph, args, "jsonb", b.arg)))
			} else {
				scalar = append(scalar, fmt.Sprintf(`(%s->>'%s') COLLATE "C" %s %s`, metadata.DefaultColumn, field, b.op, ensembleArgs(ph, args, "text", b.arg)))
			}
		}

		cond := fmt.Sprintf("(%s = '%s' AND %s)", typ, c.bounds[0].typ, strings.Join(scalar, " AND "))

		if field == "_id" {
			return cond
		}

		for _, b := range c.bounds {
			var cmp string
			if b.typ == "date" {
				cmp = fmt.Sprintf("e.v %s %s", b.op, ensembleArgs(ph, args, "jsonb", b.arg))
			} else {
				cmp = fmt.Sprintf(`(e.v #>> '{}') COLLATE "C" %s %s`, b.op, ensembleArgs(ph, args, "text", b.arg))
			}

			elems = append(elems, ensembleElems(field, fmt.Sprintf("e.t = '%s' AND %s", b.typ, cmp)))
		}

		return fmt.Sprintf("(%s OR (%s AND %s))", cond, isArray, strings.Join(elems, " AND "))
	}

	scalarOf := func(v ensembleValue) string {
		if v.typ == "null" {
			// A missing field, or null.
			return fmt.Sprintf("(%[1]s IS NULL OR %[1]s = 'null'::jsonb)", col)
		}

		return fmt.Sprintf("(%s = %s AND %s = '%s')", col, ensembleArgs(ph, args, "jsonb", v.json), typ, v.typ)
	}

	elemOf := func(v ensembleValue) string {
		if v.typ == "null" {
			return "e.v = 'null'::jsonb"
		}

		return fmt.Sprintf("(e.v = %s AND e.t = '%s')", ensembleArgs(ph, args, "jsonb", v.json), v.typ)
	}

	var scalar []string

	if !c.all || ensembleSame(c) {
		for _, v := range c.vals {
			scalar = append(scalar, scalarOf(v))

			if c.all {
				break
			}
		}
	}

	if field == "_id" {
		// An _id is never an array.
		if len(scalar) == 0 {
			return "FALSE"
		}

		return "(" + strings.Join(scalar, " OR ") + ")"
	}

	// Arrays: containment (`@>`, which the field's array index serves) compares elements by their JSON, which
	// is exact for booleans and null. A string's JSON is also an ObjectId's (its hex), a binary's (base64) or
	// a regex's (its pattern): when the array holds elements of such another type, each element's sjson type
	// is read as well (ensembleElems: slower, and rare). Values of several types are always read that way.
	arrays := []string{isArray, ensembleArrays(ph, args, schema, meta, field, c)}
	if !metadata.EnsembleMultikey(schema, meta.TableName, field) {
		// ensembleArrays gave a range of every array: containment is still needed.
		arrays = append(arrays, ensembleContains(ph, args, field, c))
	}

	typs := map[string]bool{}
	for _, v := range c.vals {
		typs[v.typ] = true
	}

	precise := func() string {
		if c.all {
			var each []string
			for _, v := range c.vals {
				each = append(each, ensembleElems(field, elemOf(v)))
			}

			return strings.Join(each, " AND ")
		}

		elems := make([]string, len(c.vals))
		for i, v := range c.vals {
			elems[i] = elemOf(v)
		}

		return ensembleElems(field, strings.Join(elems, " OR "))
	}

	switch {
	case len(typs) == 1 && (typs["bool"] || typs["null"]):
		// Containment is exact.
	case len(typs) == 1:
		// The other types whose JSON the value's JSON may be: an ObjectId's is 24 hexadecimal digits.
		var confusable []string

		for _, t := range []string{"string", "objectId", "binData", "regex"} {
			if typs[t] || (t == "objectId" && !ensembleHexLike(c)) {
				continue
			}

			confusable = append(confusable, fmt.Sprintf(`%s @> '[{"t": "%s"}]'`, fmt.Sprintf("(%s #> '{$s,p,%s,i}')", metadata.DefaultColumn, field), t))
		}

		arrays = append(arrays, fmt.Sprintf("(NOT (%s) OR %s)", strings.Join(confusable, " OR "), precise()))
	default:
		arrays = append(arrays, precise())
	}

	return "(" + strings.Join(append(scalar, "("+strings.Join(arrays, " AND ")+")"), " OR ") + ")"
}

// ensembleSortable are the sjson types whose order this file writes as BSON's (missing fields count as
// null). Doubles are left out (NaN), and so are documents, arrays and everything rarer.
const ensembleSortable = `('null', 'int', 'long', 'string', 'objectId', 'bool', 'date')`

// ensembleOrder is the ORDER BY terms for one sort key: BSON's rank of the type (null and missing, numbers,
// strings, ObjectIds, booleans, dates), then strings and ObjectIds byte by byte (BSON's order whatever the
// database's collation), then numbers, dates and booleans by their jsonb order.
func ensembleOrder(field, dir string) []string {
	typ := ensembleType(field)

	return []string{
		fmt.Sprintf(
			`CASE %s WHEN 'int' THEN 2 WHEN 'long' THEN 2 WHEN 'string' THEN 3 WHEN 'objectId' THEN 7 `+
				`WHEN 'bool' THEN 8 WHEN 'date' THEN 9 ELSE 1 END%s`,
			typ, dir,
		),
		fmt.Sprintf(`(CASE WHEN %s IN ('string', 'objectId') THEN %s->>'%s' END) COLLATE "C"%s`, typ, metadata.DefaultColumn, field, dir),
		fmt.Sprintf(`(CASE WHEN %s IN ('int', 'long', 'bool', 'date') THEN %s END)%s`, typ, ensembleCol(field), dir),
	}
}

// ensembleExact returns a WHERE clause selecting exactly the documents `filter` matches and an ORDER BY
// clause sorting them as `sort` does, when both can be had; ok is false otherwise (the caller then reads the
// superset of ensembleWhere, unlimited). It asks PostgreSQL once whether the matching documents hold a sort
// field of a type it cannot order as BSON does.
func ensembleExact(ctx context.Context, p *pgxpool.Pool, ph *metadata.Placeholder, schema string, meta *metadata.Collection, filter, sort *types.Document) (string, string, []any, bool) {
	if p == nil || meta == nil || meta.Capped() || filter.Len() == 0 || *ph != 0 {
		return "", "", nil, false
	}

	keys := filter.Keys()
	values := filter.Values()
	seen := make(map[string]bool, len(keys))

	var local metadata.Placeholder
	var conds []string
	var args []any

	for i, k := range keys {
		if seen[k] || !ensembleFieldName.MatchString(k) {
			return "", "", nil, false
		}

		seen[k] = true

		c, ok := ensembleParse(values[i])
		if !ok {
			return "", "", nil, false
		}

		if len(c.vals) == 0 && len(c.bounds) == 0 {
			conds = append(conds, "FALSE")
			continue
		}

		conds = append(conds, ensembleExactCondition(&local, &args, schema, meta, k, c))
	}

	where := " WHERE " + strings.Join(conds, " AND ")

	var order, sortable []string

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

		order = append(order, ensembleOrder(k, desc)...)
		sortable = append(sortable, fmt.Sprintf("COALESCE(%s, 'null') IN %s", ensembleType(k), ensembleSortable))
	}

	if len(sortable) > 0 {
		q := fmt.Sprintf(
			"SELECT 1 FROM %s%s AND NOT (%s) LIMIT 1",
			pgx.Identifier{schema, meta.TableName}.Sanitize(), where, strings.Join(sortable, " AND "),
		)

		rows, err := p.Query(ctx, q, args...)
		if err != nil {
			return "", "", nil, false
		}

		unorderable := rows.Next()
		rows.Close()

		if unorderable || rows.Err() != nil {
			return "", "", nil, false
		}
	}

	orderBy := ""
	if len(order) > 0 {
		orderBy = " ORDER BY " + strings.Join(order, ", ")
	}

	*ph = local

	return where, orderBy, args, true
}

// ensembleClauses is what Query and Explain append after SELECT ... FROM: the exact WHERE, ORDER BY and LIMIT
// when a limited find can be served that way, the superset WHERE otherwise. ph must be the query's first
// placeholder.
func ensembleClauses(ctx context.Context, p *pgxpool.Pool, ph *metadata.Placeholder, schema string, meta *metadata.Collection, filter, exactFilter, sort *types.Document, limit int64) (string, []any, error) {
	if limit > 0 {
		if where, order, args, ok := ensembleExact(ctx, p, ph, schema, meta, exactFilter, sort); ok {
			return where + order + " LIMIT " + ph.Next(), append(args, limit), nil
		}
	}

	return ensembleWhere(ph, schema, meta, filter)
}
