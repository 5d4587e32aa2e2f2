// A second process for tests/integration/document-lock.test.ts: sets `count` fields named `<prefix><i>` on
// one document, all at once, each under the document's lock, then exits. It says `ready` when it starts.
import { MongoClient } from 'mongodb';
import { DocumentLocks } from '../../server/db/document.lock.js';

const [uri, dbName, prefix, count] = process.argv.slice(2) as [string, string, string, string];
const client = new MongoClient(uri);
await client.connect();
const db = client.db(dbName);
const locks = new DocumentLocks(db);
const probe = db.collection<{ _id: string }>('lock_probe');
process.stdout.write('ready\n');
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    locks.update(probe, 'doc', { $set: { [`${prefix}${i}`]: true } }),
  ),
);
await client.close();
