import { MongoServerError } from 'mongodb';
import { DatabaseUnavailableError } from '../../server/core/errors.js';
import { toDomainError } from '../../server/core/problem.js';

/**
 * FerretDB on SQLite refuses a write it cannot lock in time with an internal error (code 1) naming
 * SQLITE_BUSY, as logged by bench:load (docs/performance.md): that is a 503 to retry, not a 500.
 */
describe('a database too busy to take a write', () => {
  it('answers 503 with Retry-After, not 500', () => {
    const busy = new MongoServerError({
      ok: 0,
      code: 1,
      errmsg:
        '[msg_insert.go:168 handler.(*Handler).MsgInsert] [db.go:134 fsql.(*DB).InTransaction] database is locked (5) (SQLITE_BUSY)',
    });
    const mapped = toDomainError(busy);
    expect(mapped).toBeInstanceOf(DatabaseUnavailableError);
    expect(mapped).toMatchObject({ status: 503, retryAfterSeconds: 5 });
  });

  it('leaves other internal errors to be 500s (bugs)', () => {
    expect(toDomainError(new MongoServerError({ ok: 0, code: 1, errmsg: 'something else broke' }))).toBe(
      undefined,
    );
  });
});
