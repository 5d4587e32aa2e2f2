import { Writable } from 'node:stream';
import type { Express } from 'express';
import pino from 'pino';
import { createApp, type AppDeps } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { Logger } from '../../server/core/logger.js';
import { ensureCollections } from '../../server/db/collections.js';
import { openTestDatabase, type TestDatabase } from './db.js';

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
  const app = createApp({ config, logger: pino({ level: 'silent' }), db: database.db, ...options.deps });
  return { app, config, database, close: () => database.cleanup() };
}
