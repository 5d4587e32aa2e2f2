// Ensemble's addition to FerretDB (docs/adr/0044-ferretdb-write-turns.md): the writers of one SQLite
// database take their turn in this process, in the order they asked, before SQLite's write lock.
//
// SQLite has one writer at a time. FerretDB's connections wait for its write lock (`BEGIN IMMEDIATE`) in
// SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, however soon the lock is
// free: under concurrent writes most of a write's time was spent asleep with the lock free. A writer now
// waits on a channel for the one before it to commit, and wakes the moment it has. Nothing is serialised
// that SQLite did not already serialise; a writer that waits longer than the busy timeout goes on to SQLite's
// own wait, as before.

package fsql

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// ensembleTurnWait is how long a writer waits for its turn before going on to SQLite's busy handler
// (FerretDB's default busy timeout).
const ensembleTurnWait = 10 * time.Second

// ensembleTurns holds one turn per database handle (one SQLite file).
var ensembleTurns sync.Map // *sql.DB -> chan struct{}

// ensembleWriteTurn waits for this database's write turn and returns what gives it back.
func (db *DB) ensembleWriteTurn(ctx context.Context) func() {
	v, _ := ensembleTurns.LoadOrStore(db.sqlDB, make(chan struct{}, 1))
	turn := v.(chan struct{})

	select {
	case turn <- struct{}{}:
		return func() { <-turn }
	default:
	}

	timer := time.NewTimer(ensembleTurnWait)
	defer timer.Stop()

	select {
	case turn <- struct{}{}:
		return func() { <-turn }
	case <-ctx.Done():
		return func() {}
	case <-timer.C:
		return func() {}
	}
}

// ensembleForget drops the turn of a closed database handle.
func ensembleForget(sqlDB *sql.DB) {
	ensembleTurns.Delete(sqlDB)
}
