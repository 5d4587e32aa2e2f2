// Ensemble's array indexes for FerretDB's SQLite backend (docs/adr/0013-index-served-filters.md).
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB indexes a
// field with an expression index on its JSON text, which serves a scalar value but not "an array holding the
// value" (MongoDB's multikey indexes). For the leading field of every index, this keeps a contentless FTS5
// table of the string elements of the field's array values, maintained by triggers on the collection's table
// in the same transaction as each write: `{f: v}`, `{f: {$in: [...]}}` and `{f: {$all: [...]}}` then find
// the array-valued documents through it (ensemble_pushdown.go). The FTS5 match selects a superset (its
// tokenizer splits elements into words; a phrase matches adjacent words), and FerretDB filters the rows again.
//
// The side table is keyed by the collection table's rowid; Ensemble never runs `compact` (VACUUM may renumber
// rowids), and a side table whose triggers are missing (its collection was dropped and made again) is rebuilt.

package metadata

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// ensembleMultikeyField is what a field with an array index may be called: it is written into SQL text.
var ensembleMultikeyField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ensembleMultikeys records the side tables known to be complete: "<table>\x00<field>" -> side table name.
var ensembleMultikeys sync.Map

// EnsembleMultikeyTable returns the FTS5 side table holding the array elements of `field` in `table`, if one
// is complete.
func EnsembleMultikeyTable(table, field string) (string, bool) {
	v, ok := ensembleMultikeys.Load(table + "\x00" + field)
	if !ok {
		return "", false
	}

	return v.(string), true
}

// ensembleElements is the SQL text an array value is indexed as: its string elements, separated by spaces.
func ensembleElements(row, field string) string {
	return fmt.Sprintf(`(SELECT group_concat(value, ' ') FROM json_each(%s.%s, '$.%s') WHERE type = 'text')`, row, DefaultColumn, field)
}

// ensembleMultikeyEnsure makes the side table of `field` in `table` (and its triggers), filled from the rows
// already there, unless it exists with all its triggers.
func ensembleMultikeyEnsure(ctx context.Context, db *fsql.DB, table, field string) error {
	if field == "_id" || !ensembleMultikeyField.MatchString(field) {
		return nil
	}

	side := table + "_mk_" + field
	// The update trigger is `_c` (changed): builds before it kept `_u`, which rewrote the side table's entry on
	// every update of a document holding an array, changed or not.
	triggers := []string{side + "_i", side + "_d", side + "_c"}

	var have int
	q := `SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name = ?) OR (type = 'trigger' AND name IN (?, ?, ?))`
	if err := db.QueryRowContext(ctx, q, side, triggers[0], triggers[1], triggers[2]).Scan(&have); err != nil {
		return lazyerrors.Error(err)
	}

	if have == 4 {
		ensembleMultikeys.Store(table+"\x00"+field, side)
		return nil
	}

	isArray := func(row string) string {
		return fmt.Sprintf(`json_type(%s.%s, '$.%s') = 'array'`, row, DefaultColumn, field)
	}

	// An update touches the side table only when the field's value changed and the old or the new value is an
	// array (one trigger, so that the old entry goes before the new one comes: SQLite runs several triggers in
	// no promised order). A document's other fields change far more often than its arrays: a thread's reply
	// count on every reply, a post's like count on every like.
	update := fmt.Sprintf(
		`CREATE TRIGGER %[1]q AFTER UPDATE ON %[2]q WHEN (%[3]s OR %[4]s) AND `+
			`json_extract(old.%[7]s, '$.%[8]s') IS NOT json_extract(new.%[7]s, '$.%[8]s') BEGIN `+
			`DELETE FROM %[5]q WHERE rowid = old.rowid; `+
			`INSERT INTO %[5]q(rowid, v) SELECT new.rowid, %[6]s WHERE %[4]s; END`,
		triggers[2], table, isArray("old"), isArray("new"), side, ensembleElements("new", field), DefaultColumn, field,
	)

	// A side table of an earlier build, complete but for its update trigger: only that trigger is replaced.
	var earlier int
	if err := db.QueryRowContext(ctx, q, side, triggers[0], triggers[1], side+"_u").Scan(&earlier); err != nil {
		return lazyerrors.Error(err)
	}

	// The statements run in one transaction; the side table is then known complete.
	apply := func(stmts []string) error {
		err := db.InTransaction(ctx, func(tx *fsql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return lazyerrors.Errorf("%s: %w", s, err)
				}
			}

			return nil
		})
		if err != nil {
			return err
		}

		ensembleMultikeys.Store(table+"\x00"+field, side)

		return nil
	}

	if earlier == 4 {
		return apply([]string{fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, side+"_u"), update})
	}

	return apply([]string{
		fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, triggers[0]),
		fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, triggers[1]),
		fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, triggers[2]),
		fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, side+"_u"), // of an earlier build
		fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, side+"_v"), // of an earlier build
		fmt.Sprintf(`DROP TABLE IF EXISTS %q`, side),
		fmt.Sprintf(
			`CREATE VIRTUAL TABLE %q USING fts5(v, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0')`,
			side,
		),
		fmt.Sprintf(
			`INSERT INTO %[1]q(rowid, v) SELECT t.rowid, %[2]s FROM %[3]q AS t WHERE %[4]s`,
			side, ensembleElements("t", field), table, isArray("t"),
		),
		fmt.Sprintf(
			`CREATE TRIGGER %[1]q AFTER INSERT ON %[2]q WHEN %[3]s BEGIN INSERT INTO %[4]q(rowid, v) VALUES (new.rowid, %[5]s); END`,
			triggers[0], table, isArray("new"), side, ensembleElements("new", field),
		),
		fmt.Sprintf(
			`CREATE TRIGGER %[1]q AFTER DELETE ON %[2]q WHEN %[3]s BEGIN DELETE FROM %[4]q WHERE rowid = old.rowid; END`,
			triggers[1], table, isArray("old"), side,
		),
		update,
	})
}

// ensembleMultikeyIndexes makes the side tables of the leading fields of a collection's indexes (not of its
// ordered indexes, which serve sorts only: ensemble_ordered.go).
func ensembleMultikeyIndexes(ctx context.Context, db *fsql.DB, c *Collection) error {
	for _, index := range c.Settings.Indexes {
		if len(index.Key) == 0 || EnsembleOrdered(index) {
			continue
		}

		if err := ensembleMultikeyEnsure(ctx, db, c.TableName, index.Key[0].Field); err != nil {
			return err
		}
	}

	return nil
}
