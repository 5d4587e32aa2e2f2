import http from 'node:http';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import type { Db, MongoClient } from 'mongodb';
import pino from 'pino';
import { createApp, type AppDeps } from '../../server/app.js';
import { loadConfig, type Config, type IssuerConfig } from '../../server/config.js';
import { composeNode, type EnsembleNode } from '../../server/node.js';
import type { Logger } from '../../server/core/logger.js';
import { ensureCollections } from '../../server/db/collections.js';
import { openTestDatabase, type TestDatabase } from './db.js';
import { keepConnectionsAlive } from '../../server/core/net.js';

/** Config as a test node would parse it from its environment. */
export function testConfig(env: Record<string, string> = {}, uri?: string): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...(uri ? { MONGODB_URI: uri } : {}), ...env });
}

/** A logger whose JSON lines are kept in memory so a test can read what was logged. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface TestNode {
  app: Express;
  config: Config;
  database: TestDatabase;
  close(): Promise<void>;
}

/** The real app on a fresh database of the run's database server (collections and indexes ensured). */
export async function createTestNode(
  options: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<TestNode> {
  const database = await openTestDatabase();
  const config = testConfig(options.env, database.uri);
  await ensureCollections(database.db);
  const app = createApp({ config, logger: testLogger(), db: database.db, ...options.deps });
  return { app, config, database, close: () => database.cleanup() };
}

export interface RunningNode {
  url: string;
  config: Config;
  node: EnsembleNode;
  database: TestDatabase;
  close(): Promise<void>;
}

/**
 * The whole node (services, sessions, OIDC) listening on a real loopback port, so a real identity
 * provider can redirect to it and it can call the provider back.
 */
export async function startTestNode(options: {
  port: number;
  issuers?: IssuerConfig[];
  env?: Record<string, string>;
  /** The driver's command events on `database.client` (metrics' database latency, query-plan tests). */
  monitorCommands?: boolean;
}): Promise<RunningNode> {
  const database = await openTestDatabase('test', { monitorCommands: options.monitorCommands ?? false });
  const url = `http://127.0.0.1:${options.port}`;
  const config = testConfig(
    {
      PORT: String(options.port),
      PUBLIC_URL: url,
      ...(options.issuers?.length ? { OIDC_ISSUERS: JSON.stringify(options.issuers) } : {}),
      ...options.env,
    },
    database.uri,
  );
  await ensureCollections(database.db);
  const { node, close } = await serveNode(config, database, options.port);
  return {
    url,
    config,
    node,
    database,
    close: async () => {
      await close();
      await database.cleanup();
    },
  };
}

/** Silent, unless `TEST_LOG_LEVEL` (e.g. `error`) asks to see what a test's node logs. */
function testLogger() {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

/** The whole node (with Socket.IO) on a loopback port; `close` stops the listener and then the node. */
export async function serveNode(
  config: Config,
  database: { client: MongoClient; db: Db },
  port: number,
  logger: Logger = testLogger(),
): Promise<{ node: EnsembleNode; close(): Promise<void> }> {
  const node = await composeNode({
    config,
    logger,
    client: database.client,
    db: database.db,
  });
  const server = http.createServer(node.app);
  keepConnectionsAlive(server);
  await node.attach(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // A port that could not be had fails the start at once, instead of leaving the test waiting.
    await node.close();
    throw err;
  }
  return {
    node,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.close();
    },
  };
}
