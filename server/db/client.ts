import { MongoClient, MongoServerSelectionError, type Db } from 'mongodb';
import type { Logger } from '../core/logger.js';

export interface ServerIdentity {
  /** `FerretDB` or `MongoDB`. */
  product: 'FerretDB' | 'MongoDB';
  /** The product's own version (FerretDB reports a MongoDB compatibility version separately). */
  version: string;
  /** The MongoDB version the server reports for wire compatibility. */
  mongodbCompatibleVersion: string;
}

export interface Database {
  client: MongoClient;
  db: Db;
  identity: ServerIdentity;
  close(): Promise<void>;
}

export interface ConnectOptions {
  uri: string;
  dbName: string;
  logger?: Logger;
  /**
   * How long an operation waits for a server before giving up (DATABASE_SELECTION_MS), and how long the first
   * connection waits when given (short in tests that expect a dead server; else DATABASE_BOOT_WAIT_MS).
   */
  serverSelectionTimeoutMS?: number;
  appName?: string;
  /** Command monitoring events (the metrics' database latency); off unless asked for. */
  monitorCommands?: boolean;
}

export async function describeServer(db: Db): Promise<ServerIdentity> {
  const info = await db.admin().command({ buildInfo: 1 });
  const mongoVersion = String(info.version);
  if (typeof info.ferretdbVersion === 'string') {
    return {
      product: 'FerretDB',
      version: info.ferretdbVersion.replace(/^v/, ''),
      mongodbCompatibleVersion: mongoVersion,
    };
  }
  return { product: 'MongoDB', version: mongoVersion, mongodbCompatibleVersion: mongoVersion };
}

/** Connect with the official driver, check the server answers, and report which server it is. */
/**
 * How often the driver checks each server. Short, so that after the database comes back the node serves
 * again within seconds (server/db/availability.ts); one `hello` per server per interval.
 */
export const DATABASE_HEARTBEAT_MS = 2000;

/**
 * How long an operation waits for a server that takes it. A request that passed the database gate
 * (server/db/availability.ts) just before the database went away waits this long for each of its commands
 * (the driver retries a read once more): with the driver's default of 30 s, or the 10 s used before, a
 * request with a few commands could stay open half a minute, where it now answers 503 within seconds
 * (docs/operations.md, "Faults"). A database that answers again within it serves the command.
 */
export const DATABASE_SELECTION_MS = 2500;
/** How long the node waits for its database at boot (a database started beside it may still be starting). */
export const DATABASE_BOOT_WAIT_MS = 10_000;

export async function connectDatabase(options: ConnectOptions): Promise<Database> {
  const client = new MongoClient(options.uri, {
    appName: options.appName ?? 'ensemble',
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? DATABASE_SELECTION_MS,
    monitorCommands: options.monitorCommands ?? false,
    heartbeatFrequencyMS: DATABASE_HEARTBEAT_MS,
  });
  // The first connection tries for DATABASE_BOOT_WAIT_MS, one selection timeout at a time.
  const bootDeadline = Date.now() + (options.serverSelectionTimeoutMS ?? DATABASE_BOOT_WAIT_MS);
  for (;;) {
    try {
      await client.connect();
      break;
    } catch (err) {
      // Only a server not reached yet is waited for; a refusal (credentials, a bad address) is final.
      if (!(err instanceof MongoServerSelectionError) || Date.now() >= bootDeadline) throw err;
    }
  }
  try {
    const db = client.db(options.dbName);
    const identity = await describeServer(db);
    options.logger?.info(
      { database: options.dbName, server: identity.product, version: identity.version },
      `connected to ${identity.product} ${identity.version}` +
        (identity.product === 'FerretDB' ? ` (MongoDB ${identity.mongodbCompatibleVersion} compatible)` : ''),
    );
    return { client, db, identity, close: () => client.close() };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

/** Ping with a deadline: true when the server answered in time. */
export async function pingDatabase(db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      db.command({ ping: 1 }).then(
        (r) => r.ok === 1,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
