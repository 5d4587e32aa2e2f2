import type { BulkWriteResult } from 'mongodb';
import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoServerError,
  MongoUnexpectedServerResponseError,
} from 'mongodb';
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

  it('answers 503 for an insertMany whose connection closed (the driver wraps it in a bulk write error)', () => {
    // What tests/faults/database-restart.test.ts met when the database was killed under an insertMany.
    const closed = new MongoBulkWriteError(
      new MongoNetworkError('connection 8 to 127.0.0.1:22136 closed'),
      {} as BulkWriteResult,
    );
    expect(toDomainError(closed)).toMatchObject({ status: 503, retryAfterSeconds: 5 });
    // A bulk write refused for its documents is not the database being away.
    const duplicate = new MongoBulkWriteError(
      { message: 'E11000 duplicate key', code: 11000, writeErrors: [{ index: 0, code: 11000 }] as never },
      {} as BulkWriteResult,
    );
    expect(toDomainError(duplicate)).toBe(undefined);
  });

  it('answers 503 for a database answer the driver could not read (a find answered without its cursor)', () => {
    // As logged by bench:load (docs/performance.md): FerretDB answered a find with ok: 1 and no cursor.
    const unreadable = new MongoUnexpectedServerResponseError('BSON element "cursor" is missing', {
      cause: new Error('BSON element "cursor" is missing'),
    });
    expect(toDomainError(unreadable)).toMatchObject({ status: 503, retryAfterSeconds: 5 });
  });
});
