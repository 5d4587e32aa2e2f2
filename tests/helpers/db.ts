import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';

export interface TestDatabase {
  client: MongoClient;
  db: Db;
  uri: string;
  name: string;
  /** Drop the database and close the client. */
  cleanup(): Promise<void>;
}

export function testServerUri(): string {
  const uri = process.env.ENSEMBLE_TEST_MONGODB_URI;
  if (!uri)
    throw new Error('ENSEMBLE_TEST_MONGODB_URI is not set: run the tests through jest (global setup)');
  return uri;
}

/** A fresh database on the run's database server, unique to this test file, so files run in parallel. */
export async function openTestDatabase(
  label = 'test',
  options: { monitorCommands?: boolean } = {},
): Promise<TestDatabase> {
  const uri = testServerUri();
  const name = `${label}_${process.env.JEST_WORKER_ID ?? '0'}_${randomBytes(4).toString('hex')}`.slice(0, 63);
  // Command monitoring feeds the metrics' database latency, as main.ts turns it on for a node.
  const client = new MongoClient(uri, { monitorCommands: options.monitorCommands ?? false });
  await client.connect();
  const db = client.db(name);
  return {
    client,
    db,
    uri,
    name,
    cleanup: async () => {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

/** Count documents in every collection: a whole-database snapshot to prove a request wrote nothing. */
export async function documentCounts(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
    counts[name] = await db.collection(name).countDocuments();
  }
  return counts;
}
