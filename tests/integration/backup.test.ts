import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort } from '../../server/core/net.js';
import { projectRoot } from '../../server/core/paths.js';
import { serveNode, testConfig } from '../helpers/app.js';
import { ApiClient } from '../helpers/browser.js';
import { documentCounts } from '../helpers/db.js';
import { download, filesForm } from '../helpers/files.js';
import { png, upload } from '../helpers/images.js';
import { startWorld, type World } from '../helpers/world.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The backup command as an operator runs it (`npm run backup` / `node dist/server/ops/backup.cli.js`). */
function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'server', 'ops', 'backup.cli.ts'), ...args],
      { cwd: projectRoot, env: { ...process.env, MONGODB_URI: '', MONGODB_DB_NAME: '' } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe('backup and restore: a node comes back from its backup with the same content and file bytes', () => {
  let w: World;
  let dir: string;
  let restoredName: string;
  const file = randomBytes(700 * 1024 + 17); // three GridFS chunks
  const avatar = png();
  let fileId: string;
  let threadId: string;

  beforeAll(async () => {
    w = await startWorld(['ana', 'ben']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-backup-'));
    restoredName = `${w.node.database.name}_r`.slice(0, 63);
    // A node with people, a members-only group, a discussion, a library file and an avatar.
    expect(
      (
        await w.as.ana!.call('POST', '/groups', {
          handle: 'cabinet',
          name: 'Cabinet',
          visibility: 'members',
          joinPolicy: 'invite',
        })
      ).status,
    ).toBe(201);
    const thread = await w.as.ana!.call('POST', '/groups/cabinet/threads', {
      title: 'Budget',
      body: 'Numbers for **Tuesday**',
    });
    threadId = thread.body.id;
    expect(
      (await w.as.ana!.call('POST', `/threads/${threadId}/replies`, { body: 'Draft attached' })).status,
    ).toBe(201);
    const uploaded = await w.as.ana!.call(
      'POST',
      '/groups/cabinet/files',
      filesForm([{ bytes: file, name: 'budget.xlsx' }]),
    );
    expect(uploaded.status).toBe(201);
    fileId = uploaded.body[0].id;
    expect((await w.as.ana!.call('PUT', '/me/avatar', upload(avatar, 'ana.png', 'image/png'))).status).toBe(
      200,
    );
    await w.node.node.jobs.drain();
  });
  afterAll(async () => {
    const client = new MongoClient(w.node.database.uri);
    await client
      .db(restoredName)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
    await w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backs up, refuses a damaged copy or a database in use, restores into a fresh one that serves the same', async () => {
    const { uri, name } = w.node.database;
    const folder = path.join(dir, 'nightly');
    const backup = await cli(['backup', folder, '--uri', uri, '--db', name]);
    expect(backup).toMatchObject({ code: 0 });
    expect(backup.out).toMatch(/backed up .*collections, \d+ documents/);
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as {
      collections: { name: string; documents: number }[];
    };
    expect(manifest.collections.find((c) => c.name === 'blobs.chunks')?.documents).toBe(3);
    expect(manifest.collections.find((c) => c.name === 'images.files')?.documents).toBe(1);
    // A second backup into the same folder is refused: a backup is never overwritten.
    expect((await cli(['backup', folder, '--uri', uri, '--db', name])).code).toBe(1);

    // A damaged copy is refused before anything is written.
    const damaged = path.join(dir, 'damaged');
    fs.cpSync(folder, damaged, { recursive: true });
    const chunks = path.join(damaged, 'blobs.chunks.bson');
    const bytes = fs.readFileSync(chunks);
    const at = bytes.length - 100;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    fs.writeFileSync(chunks, bytes);
    const refused = await cli(['restore', damaged, '--uri', uri, '--db', restoredName]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('blobs.chunks.bson is missing or damaged');
    // Restoring over the live database is refused without --drop.
    const busy = await cli(['restore', folder, '--uri', uri, '--db', name]);
    expect(busy.code).toBe(1);
    expect(busy.err).toContain('is not empty');
    const client = new MongoClient(uri);
    try {
      expect(await client.db(restoredName).listCollections().toArray()).toEqual([]);

      const restored = await cli(['restore', folder, '--uri', uri, '--db', restoredName]);
      expect(restored).toMatchObject({ code: 0 });
      // Every collection, every document (sessions too: people stay signed in).
      const original = await documentCounts(w.node.database.db);
      expect(await documentCounts(client.db(restoredName))).toEqual(original);

      // A node on the restored database serves the same pages and the same bytes, to the same people.
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const config = testConfig(
        { PORT: String(port), PUBLIC_URL: url, OIDC_ISSUERS: JSON.stringify([w.idp.issuer]) },
        uri,
      );
      const served = await serveNode(config, { client, db: client.db(restoredName) }, port);
      try {
        const ana = w.as.ana!;
        for (const [k, v] of ana.browser.cookies(w.node.url)) ana.browser.cookies(url).set(k, v);
        const before = {
          thread: await ana.call('GET', `/threads/${threadId}`),
          replies: await ana.call('GET', `/threads/${threadId}/replies`),
          files: await ana.call('GET', '/groups/cabinet/files'),
        };
        const onRestored = new ApiClient(ana.browser, url);
        expect((await onRestored.call('GET', `/threads/${threadId}`)).body).toEqual(before.thread.body);
        expect((await onRestored.call('GET', `/threads/${threadId}/replies`)).body).toEqual(
          before.replies.body,
        );
        expect((await onRestored.call('GET', '/groups/cabinet/files')).body).toEqual(before.files.body);
        const got = await download(onRestored, `/files/${fileId}/content`);
        expect(got.status).toBe(200);
        expect(sha256(got.bytes)).toBe(sha256(file));
        const image = await fetch(`${url}/api/v1/people/ana/avatar`);
        expect(Buffer.from(await image.arrayBuffer())).toEqual(avatar);
        // And what was private stays private.
        expect((await fetch(`${url}/api/v1/threads/${threadId}`)).status).toBe(404);
      } finally {
        await served.close();
      }
    } finally {
      await client.close();
    }
  });
});
