import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoUnexpectedServerResponseError,
  type Collection,
  type Document,
  type Filter,
  type OptionalUnlessRequiredId,
  type UpdateFilter,
} from 'mongodb';

/** MongoDB's (and FerretDB's) duplicate key error: an insert or upsert hit a unique index. */
export const DUPLICATE_KEY = 11000;

/**
 * FerretDB 1.24 answers an insert that hits a unique index with 11000, but an update (update, findAndModify,
 * replace) that would make two documents share a unique key with code 1 (InternalError) carrying its
 * backend's own message: SQLite's `UNIQUE constraint failed` or PostgreSQL's
 * `duplicate key value violates unique constraint` (SQLSTATE 23505). Those are the same refusal.
 */
const FERRETDB_UNIQUE_VIOLATION =
  /UNIQUE constraint failed|duplicate key value violates unique constraint|SQLSTATE 23505/;

/**
 * Whether an error is a duplicate key, the signal every "first writer wins" insert relies on and every
 * update onto a taken unique value (a slug, a handle) answers 409 from.
 */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code === DUPLICATE_KEY) return true;
  if (e.code === 1 && typeof e.message === 'string' && FERRETDB_UNIQUE_VIOLATION.test(e.message)) return true;
  return false;
}

/**
 * Server codes that say "not now" rather than "no": no primary (an election), the server shutting down or
 * unreachable (HostUnreachable 6, HostNotFound 7, NetworkTimeout 89, ShutdownInProgress 91,
 * PrimarySteppedDown 189, NotWritablePrimary 10107, InterruptedAtShutdown 11600, InterruptedDueToReplStateChange
 * 11602, NotPrimaryNoSecondaryOk 13435, NotPrimaryOrSecondary 13436, SocketException 9001).
 */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * What failed, for an `insertMany` or `bulkWrite` that failed as a whole: the driver wraps the command's own
 * error (a closed connection, a server error) in a MongoBulkWriteError without write errors, keeping the
 * original as `errorResponse`; any other error is itself.
 */
export function commandError(err: unknown): unknown {
  if (err instanceof MongoBulkWriteError && ![err.writeErrors].flat().length) {
    const original = (err as { errorResponse?: unknown }).errorResponse;
    if (original instanceof Error) return original;
  }
  return err;
}

/**
 * Whether an error means the database cannot be reached right now (down, restarting, electing a primary):
 * answered 503 and retried later, never a 500 (docs/operations.md, "Faults").
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  err = commandError(err);
  if (
    err instanceof MongoNetworkError || // PoolClearedError and timeouts are network errors too
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
  )
    return true;
  return err instanceof MongoServerError && typeof err.code === 'number' && UNAVAILABLE_CODES.has(err.code);
}

/**
 * Whether the database refused a command because it could not take its write lock in time: FerretDB on
 * SQLite answers `database is locked (5) (SQLITE_BUSY)` (as an internal error) when writers queue too long.
 * Nothing of that command was written; answered 503 and retried later, never a 500 (docs/performance.md,
 * "Load, and scaling out").
 */
export function isDatabaseBusy(err: unknown): boolean {
  err = commandError(err);
  return err instanceof MongoServerError && /\bSQLITE_BUSY\b|database is locked/.test(err.message);
}

/**
 * `updateOne` with `upsert` on an `_id`: two writers racing to create the same document make one of them
 * fail with a duplicate key (on MongoDB and FerretDB alike); by then the document exists, so the update
 * is simply run again.
 */
export async function upsertOne<T extends Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  update: UpdateFilter<T>,
): Promise<void> {
  try {
    await collection.updateOne(filter, update, { upsert: true });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    await collection.updateOne(filter, update, { upsert: true });
  }
}

/** How one document of `insertEach` went: in, refused as a duplicate key, or refused alone for another reason. */
export type InsertOutcome = 'inserted' | 'duplicate' | { error: unknown };

/**
 * Insert documents at once, unordered, and tell how each went (the group commits: BatchInserter,
 * SequenceAppender). One document alone is a plain insert, without the driver's bulk write around it. A
 * command that failed as a whole (the database away, a document that could not be serialised) is thrown.
 */
export async function insertEach<T extends Document>(
  collection: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[],
): Promise<InsertOutcome[]> {
  if (docs.length === 1) return [(await insertOnce(collection, docs[0]!)) ? 'inserted' : 'duplicate'];
  try {
    await collection.insertMany(docs, { ordered: false });
    return docs.map(() => 'inserted');
  } catch (err) {
    const writeErrors = (err as { writeErrors?: { index: number; code?: number; err?: { code?: number } }[] })
      .writeErrors;
    if (!writeErrors?.length) throw err;
    const failed = new Map(writeErrors.map((e) => [e.index, e]));
    return docs.map((_, i) => {
      const e = failed.get(i);
      if (!e) return 'inserted';
      return isDuplicateKey(e) || isDuplicateKey(e.err) ? 'duplicate' : { error: err };
    });
  }
}

/** Insert a document keyed by its `_id`, first writer wins: true if this call inserted it. */
export async function insertOnce<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/**
 * Whether the driver could not read the database's answer as the answer to its command (a
 * MongoUnexpectedServerResponseError: a `find` answered `{n, ok: 1}`, `BSON element "cursor" is missing`).
 * FerretDB 1.24 answered unacknowledged writes, whose answer the next command on the connection then took
 * for its own (docs/adr/0037-no-unacknowledged-writes.md); Ensemble sends none and its FerretDB build answers
 * none. Should it still happen, nothing the request sent caused it and asking again works: answered 503 with
 * Retry-After like a busy database, and logged with its stack.
 */
export function isUnreadableAnswer(err: unknown): boolean {
  return commandError(err) instanceof MongoUnexpectedServerResponseError;
}
