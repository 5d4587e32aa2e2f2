// Ensemble's array indexes for FerretDB's PostgreSQL backend (docs/adr/0026-postgresql-index-served-filters.md).
//
// This file is Ensemble's own, added to FerretDB's source by scripts/build-ferretdb.mjs. FerretDB indexes a
// field with a btree on `(_jsonb->'field')`, which serves a scalar value (`=`, ranges) but not "an array
// holding the value" (MongoDB's multikey indexes). For the leading field of every index, this adds a GIN
// index (jsonb_path_ops) on the same expression, partial to the documents whose value is an array, so that it
// costs nothing for the scalar values most fields hold: `{f: v}`, `{f: {$in: [...]}}` and
// `{f: {$all: [...]}}` then find the array-valued documents through it
// (scripts/ferretdb/ensemble_pg_pushdown.go). It is made when an index is created, and when FerretDB first
// opens a database whose indexes were made without it (by the upstream FerretDB, or before this build).

package metadata

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// ensembleMultikeyField is what a field with an array index may be called: it is written into SQL text.
var ensembleMultikeyField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ensembleMultikeys records the array indexes known to exist: "<schema>\x00<table>\x00<field>" -> true.
var ensembleMultikeys sync.Map

// EnsembleMultikey reports whether `field` of `table` in `schema` has its array index.
func EnsembleMultikey(schema, table, field string) bool {
	_, ok := ensembleMultikeys.Load(schema + "\x00" + table + "\x00" + field)
	return ok
}

// ensembleMultikeyName is the array index's name, unique in the schema as index names must be: it never ends
// in `_idx`, as FerretDB's own do.
func ensembleMultikeyName(table, field string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(table + "\x00" + field))

	if len(table) > 30 {
		table = table[:30]
	}

	return fmt.Sprintf("%s_%08x_ensemble_mk", table, h.Sum32())
}

// ensembleMultikeyEnsure makes the array index of `field` in `table`, unless `existing` (the table's index
// names, or nil to ask PostgreSQL to skip an existing one) holds it.
func ensembleMultikeyEnsure(ctx context.Context, p *pgxpool.Pool, schema, table, field string, existing map[string]bool) error {
	if field == "_id" || !ensembleMultikeyField.MatchString(field) {
		return nil
	}

	name := ensembleMultikeyName(table, field)

	if !existing[name] {
		col := fmt.Sprintf("%s->'%s'", DefaultColumn, field)
		q := fmt.Sprintf(
			`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((%s) jsonb_path_ops) WHERE jsonb_typeof(%s) = 'array'`,
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{schema, table}.Sanitize(), col, col,
		)

		if _, err := p.Exec(ctx, q); err != nil {
			return lazyerrors.Error(err)
		}
	}

	ensembleMultikeys.Store(schema+"\x00"+table+"\x00"+field, true)

	return nil
}

// ensembleMultikeyIndexes makes the missing array indexes of the leading fields of a collection's indexes. A
// failure is logged, not returned: queries stay correct without them, only slower on array values.
func ensembleMultikeyIndexes(ctx context.Context, p *pgxpool.Pool, schema string, c *Collection, l *slog.Logger) {
	existing := map[string]bool{}

	rows, err := p.Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2`, schema, c.TableName)
	if err == nil {
		for rows.Next() {
			var name string
			if rows.Scan(&name) == nil {
				existing[name] = true
			}
		}

		rows.Close()
		err = rows.Err()
	}

	if err != nil {
		l.WarnContext(ctx, "ensemble: cannot list indexes", slog.String("table", c.TableName), slog.String("error", err.Error()))
		return
	}

	for _, index := range c.Indexes {
		if len(index.Key) == 0 || strings.Contains(index.Key[0].Field, ".") {
			continue
		}

		if err := ensembleMultikeyEnsure(ctx, p, schema, c.TableName, index.Key[0].Field, existing); err != nil {
			l.WarnContext(
				ctx, "ensemble: cannot make an array index",
				slog.String("table", c.TableName), slog.String("field", index.Key[0].Field), slog.String("error", err.Error()),
			)
		}
	}
}
