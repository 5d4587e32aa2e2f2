import type { Db } from 'mongodb';
import type { Logger } from '../core/logger.js';
import { collections } from './collections.js';
import { isDuplicateKey } from './errors.js';

interface MetaDoc {
  _id: string;
  schemaVersion?: number;
  at?: Date;
}

export interface Migration {
  version: number;
  description: string;
  run(): Promise<void>;
}

/**
 * Bring the data up to the newest schema version, one step at a time, at boot. A step runs once: a
 * `migrating:<version>` document taken by an atomic insert keeps a second process booting meanwhile
 * from running it too (that process serves on while the first finishes).
 */
export async function runMigrations(db: Db, migrations: Migration[], logger: Logger): Promise<void> {
  const meta = db.collection<MetaDoc>(collections.meta);
  for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
    if (((await meta.findOne({ _id: 'node' }))?.schemaVersion ?? 0) >= step.version) continue;
    const lock = `migrating:${step.version}`;
    try {
      await meta.insertOne({ _id: lock, at: new Date() });
    } catch (err) {
      if (isDuplicateKey(err)) return;
      throw err;
    }
    const started = Date.now();
    try {
      await step.run();
    } finally {
      await meta.deleteOne({ _id: lock });
    }
    await meta.updateOne({ _id: 'node' }, { $max: { schemaVersion: step.version } }, { upsert: true });
    logger.info({ version: step.version, ms: Date.now() - started }, `schema migrated: ${step.description}`);
  }
}
