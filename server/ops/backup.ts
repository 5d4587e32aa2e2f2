import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { BSON, type Db, type Document } from 'mongodb';

/**
 * A backup of the node's whole database, GridFS buckets included (docs/operations.md, "Backups and restore"),
 * through the driver, so it works alike on MongoDB and FerretDB. The layout is mongodump's directory format
 * (`<collection>.bson`: the documents' BSON one after another, exactly as stored; `<collection>.metadata.json`:
 * indexes and options in canonical Extended JSON), so `mongorestore` can read a backup made here and the
 * restore here can read one made by `mongodump --db <name> --out`, plus `manifest.json` with each file's
 * document count and SHA-256, checked before anything is restored.
 */

export const BACKUP_FORMAT = 'ensemble-backup/1';

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  database: string;
  createdAt: string;
  collections: { name: string; documents: number; bytes: number; sha256: string }[];
}

/** Collections to copy: everything but views and the server's own `system.*`. */
async function collectionsOf(db: Db) {
  const all = await db.listCollections({}, { nameOnly: false }).toArray();
  return all
    .filter((c) => (c.type ?? 'collection') === 'collection' && !c.name.startsWith('system.'))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function writeFileSafely(file: string, text: string): Promise<void> {
  await fs.writeFile(file, text, { flag: 'wx' });
}

/**
 * Copy every collection of `db` into `dir` (which must not exist). Written into `<dir>.partial` and renamed
 * at the end, so an interrupted backup never looks complete. A live node keeps writing meanwhile: stop it
 * (or take it out of rotation) for a copy of one moment (docs/operations.md).
 */
export async function backupDatabase(db: Db, dir: string): Promise<BackupManifest> {
  const target = path.resolve(dir);
  if (
    await fs.stat(target).then(
      () => true,
      () => false,
    )
  )
    throw new Error(`${target} exists: a backup goes into a new folder`);
  const partial = `${target}.partial`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true });
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    database: db.databaseName,
    createdAt: new Date().toISOString(),
    collections: [],
  };
  for (const info of await collectionsOf(db)) {
    const collection = db.collection(info.name);
    const out = createWriteStream(path.join(partial, `${info.name}.bson`), { flags: 'wx' });
    const hash = createHash('sha256');
    let documents = 0;
    let bytes = 0;
    // `raw`: each document as the BSON the server sent, written unchanged (no decoding, no re-encoding).
    for await (const raw of collection.find({}, { raw: true, batchSize: 500 })) {
      const buffer = raw as unknown as Buffer;
      hash.update(buffer);
      documents++;
      bytes += buffer.length;
      if (!out.write(buffer)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    const indexes = await collection.indexes();
    await writeFileSafely(
      path.join(partial, `${info.name}.metadata.json`),
      BSON.EJSON.stringify(
        {
          collectionName: info.name,
          type: 'collection',
          options: info.options ?? {},
          indexes: indexes.map(({ v, key, name, ...rest }) => ({ v: v ?? 2, key, name, ...rest })),
        },
        { relaxed: false },
      ),
    );
    manifest.collections.push({ name: info.name, documents, bytes, sha256: hash.digest('hex') });
  }
  await writeFileSafely(path.join(partial, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.rename(partial, target);
  return manifest;
}

/** The documents of a `.bson` file, one Buffer each, read as a stream (GridFS chunks can add up to gigabytes). */
async function* bsonDocuments(file: string): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    let offset = 0;
    while (pending.length - offset >= 4) {
      const size = pending.readInt32LE(offset);
      if (size < 5) throw new Error(`${file}: a document of ${size} bytes at ${offset}: not BSON`);
      if (pending.length - offset < size) break;
      yield pending.subarray(offset, offset + size);
      offset += size;
    }
    pending = pending.subarray(offset);
  }
  if (pending.length) throw new Error(`${file}: ends in the middle of a document`);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  const text = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8').catch(() => {
    throw new Error(`${dir} has no manifest.json: not a complete backup`);
  });
  const manifest = JSON.parse(text) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new Error(`${dir}: unknown backup format ${manifest.format}`);
  return manifest;
}

/** Every file of the backup is there and has the bytes the manifest says: checked before restoring anything. */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  const manifest = await readManifest(dir);
  for (const c of manifest.collections) {
    const file = path.join(dir, `${c.name}.bson`);
    const sum = await sha256Of(file).catch(() => null);
    if (sum !== c.sha256)
      throw new Error(`${file} is missing or damaged (its SHA-256 is not the manifest's)`);
    await fs.access(path.join(dir, `${c.name}.metadata.json`)).catch(() => {
      throw new Error(`${c.name}.metadata.json is missing from ${dir}`);
    });
  }
  return manifest;
}

/** Index options a createIndex accepts again (listIndexes also reports `v` and, on some servers, `ns`). */
function indexOptions(index: Document): Document {
  const { key: _key, v: _v, ns: _ns, ...options } = index;
  return options;
}

/**
 * Restore a backup into `db`, which must be empty (`drop: true` empties it first). The files are verified
 * first; documents go back with their types unchanged (BSON values are not promoted to JavaScript numbers),
 * then the indexes; each collection's count is compared with the manifest's at the end.
 */
export async function restoreDatabase(
  db: Db,
  dir: string,
  options: { drop?: boolean } = {},
): Promise<{ collections: number; documents: number }> {
  const manifest = await verifyBackup(dir);
  const existing = await collectionsOf(db);
  if (existing.length) {
    if (!options.drop)
      throw new Error(
        `database ${db.databaseName} is not empty (${existing.length} collections): restore into a new database, or pass --drop`,
      );
    await db.dropDatabase();
  }
  let documents = 0;
  for (const c of manifest.collections) {
    const metadata = BSON.EJSON.parse(await fs.readFile(path.join(dir, `${c.name}.metadata.json`), 'utf8'), {
      relaxed: false,
    }) as { options?: Document; indexes?: Document[] };
    await db.createCollection(c.name, metadata.options ?? {});
    const collection = db.collection(c.name);
    let batch: Document[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (!batch.length) return;
      await collection.insertMany(batch, { ordered: true });
      documents += batch.length;
      batch = [];
      batchBytes = 0;
    };
    for await (const raw of bsonDocuments(path.join(dir, `${c.name}.bson`))) {
      batch.push(BSON.deserialize(raw, { promoteValues: false, promoteBuffers: false }));
      batchBytes += raw.length;
      if (batch.length >= 500 || batchBytes >= 8 * 1024 * 1024) await flush();
    }
    await flush();
    for (const index of metadata.indexes ?? []) {
      if (index.name === '_id_') continue;
      await collection.createIndex(index.key as Document, indexOptions(index));
    }
    const count = await collection.countDocuments();
    if (count !== c.documents)
      throw new Error(`${c.name}: ${count} documents after the restore, the backup holds ${c.documents}`);
  }
  return { collections: manifest.collections.length, documents };
}
