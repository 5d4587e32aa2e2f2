import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../server/app.js';
import { connectDatabase } from '../../server/db/client.js';
import { startEmbeddedDatabase, type EmbeddedOptions } from '../../server/db/embedded.js';
import { startFerretDB } from '../../server/db/ferretdb.process.js';
import { projectRoot } from '../../server/core/paths.js';
import { testConfig } from '../helpers/app.js';

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the embedded default database', () => {
  let dataDir: string;
  let options: EmbeddedOptions;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-embedded-'));
    options = {
      dataDir,
      toolsDir: path.join(projectRoot, '.tools'),
      mongodSystemBinary: process.env.MONGOMS_SYSTEM_BINARY,
      allowDownload: false, // this machine has a mongod or Go; nothing may be downloaded here
      logger: pino({ level: 'silent' }),
    };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('is a real server, keeps data across a restart, and readiness follows it', async () => {
    const first = await startEmbeddedDatabase(options);
    expect(first.pid).toEqual(expect.any(Number));
    const db1 = await connectDatabase({ uri: first.uri, dbName: 'keep', serverSelectionTimeoutMS: 1000 });
    // buildInfo reports the real server and its version.
    expect(db1.identity.product).toBe(first.kind === 'ferretdb' ? 'FerretDB' : 'MongoDB');
    if (first.kind === 'ferretdb') expect(db1.identity.version).toBe('1.24.2');
    await db1.db.collection('groups').insertOne({ handle: 'welcome', name: 'Welcome' });

    const app = createApp({ config: testConfig(), logger: pino({ level: 'silent' }), db: db1.db });
    expect((await request(app).get('/readyz')).status).toBe(200);

    await first.stop();
    expect(isRunning(first.pid!)).toBe(false);
    const down = await request(app).get('/readyz');
    expect(down.status).toBe(503);
    await db1.close();

    const second = await startEmbeddedDatabase(options);
    const db2 = await connectDatabase({ uri: second.uri, dbName: 'keep' });
    expect(
      await db2.db.collection('groups').findOne({ handle: 'welcome' }, { projection: { _id: 0 } }),
    ).toEqual({
      handle: 'welcome',
      name: 'Welcome',
    });
    await db2.close();
    await second.stop();
  });

  it('stops a FerretDB left running on the same data directory by a killed process', async () => {
    if (process.env.ENSEMBLE_TEST_DB_KIND && process.env.ENSEMBLE_TEST_DB_KIND !== 'ferretdb') return;
    const bin = path.join(projectRoot, '.tools', 'bin', 'ferretdb');
    const dir = path.join(dataDir, 'orphan');
    const orphan = await startFerretDB({ bin, dataDir: dir, logger: pino({ level: 'silent' }) });
    // The process that started it "dies" without stopping it; a new start takes over the directory.
    const next = await startFerretDB({ bin, dataDir: dir, logger: pino({ level: 'silent' }) });
    await new Promise((r) => setTimeout(r, 200));
    expect(isRunning(orphan.pid)).toBe(false);
    expect(isRunning(next.pid)).toBe(true);
    await next.stop();
    expect(isRunning(next.pid)).toBe(false);
  });
});
