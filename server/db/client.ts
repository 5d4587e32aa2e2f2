import { MongoClient, type Db } from 'mongodb';
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
  /** How long to wait for a server before giving up; short in tests that expect a dead server. */
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

export async function connectDatabase(options: ConnectOptions): Promise<Database> {
  const client = new MongoClient(options.uri, {
    appName: options.appName ?? 'ensemble',
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
    monitorCommands: options.monitorCommands ?? false,
    heartbeatFrequencyMS: DATABASE_HEARTBEAT_MS,
  });
  await client.connect();
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
