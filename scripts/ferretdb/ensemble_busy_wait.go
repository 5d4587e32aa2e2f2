// Ensemble's addition to modernc.org/sqlite, the SQLite FerretDB links (docs/adr/0043-sqlite-busy-wait.md):
// how long a connection waiting for the write lock sleeps between tries.
//
// SQLite's default busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between tries,
// however soon the lock is free. FerretDB's writes hold the lock for a fraction of a millisecond, so a
// writer that found it taken slept a whole millisecond or more after it was free: two writes sent at once
// took longer than the same two sent one after the other. Here the first tries come 50 µs apart and the
// waits grow to 1 ms, which they stay until the writer has waited 100 ms (a long write: an index being
// built, a large batch); then they grow as before, up to 100 ms. The busy timeout is the same total wait.

package sqlite3

import (
	"unsafe"

	"modernc.org/libc"
)

// ensembleBusyFirst are the first sleeps between tries, in microseconds.
var ensembleBusyFirst = [...]int64{50, 50, 100, 100, 200, 200, 500, 500}

// ensembleBusyDelay is the sleep before try `count` + 1, in microseconds, when `prior` were slept before it.
func ensembleBusyDelay(count int32, prior int64) int64 {
	switch {
	case int(count) < len(ensembleBusyFirst):
		return ensembleBusyFirst[count]
	case prior < 100_000:
		return 1000
	case prior < 200_000:
		return 25_000
	case prior < 400_000:
		return 50_000
	default:
		return 100_000
	}
}

// ensembleBusyWait sleeps before try `count` + 1 and returns 1, or returns 0 once the busy timeout of the
// connection (`ptr`) is spent.
func ensembleBusyWait(tls *libc.TLS, ptr uintptr, count int32) int32 {
	db := (*Tsqlite3)(unsafe.Pointer(ptr))
	timeout := int64(db.FbusyTimeout) * 1000

	var prior int64
	for i := int32(0); i < count; i++ {
		prior += ensembleBusyDelay(i, prior)
	}

	delay := ensembleBusyDelay(count, prior)
	if prior+delay > timeout {
		delay = timeout - prior
		if delay <= 0 {
			return 0
		}
	}

	_sqlite3OsSleep(tls, db.FpVfs, int32(delay))

	return 1
}
