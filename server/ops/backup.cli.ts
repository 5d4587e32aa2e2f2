import { parseArgs } from 'node:util';
import { ConfigError, loadDatabaseConfig } from '../config.js';
import { connectDatabase } from '../db/client.js';
import { backupDatabase, restoreDatabase, verifyBackup } from './backup.js';

/**
 * `backup <folder>`, `verify <folder>`, `restore <folder> [--drop]` (docs/operations.md, "Backups and
 * restore"). The database is MONGODB_URI and MONGODB_DB_NAME, or --uri and --db. In the Docker image:
 * `node dist/server/ops/backup.cli.js`; from a checkout: `npm run backup -- <folder>`.
 */
const USAGE = `usage: backup.cli.js backup|verify|restore <folder> [--uri mongodb://…] [--db ensemble] [--drop]
  backup   copy the database (every collection, GridFS included) into a new folder
  verify   check a backup's files against its manifest
  restore  copy a backup into an empty database (--drop empties it first)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { uri: { type: 'string' }, db: { type: 'string' }, drop: { type: 'boolean' } },
  });
  const [command, folder] = positionals;
  if (!folder || !['backup', 'verify', 'restore'].includes(command ?? '')) {
    process.stderr.write(`${USAGE}\n`);
    return 64; // EX_USAGE
  }
  if (command === 'verify') {
    const manifest = await verifyBackup(folder);
    process.stdout.write(`${folder}: complete, ${manifest.collections.length} collections\n`);
    return 0;
  }
  const configured = loadDatabaseConfig();
  const uri = values.uri ?? configured.uri;
  if (!uri) {
    process.stderr.write('Set MONGODB_URI (or pass --uri): the database to back up or restore into.\n');
    return 78;
  }
  const database = await connectDatabase({
    uri,
    dbName: values.db ?? configured.name,
    appName: 'ensemble-backup',
  });
  try {
    if (command === 'backup') {
      const manifest = await backupDatabase(database.db, folder);
      const documents = manifest.collections.reduce((n, c) => n + c.documents, 0);
      process.stdout.write(
        `backed up ${database.db.databaseName} (${database.identity.product} ${database.identity.version}): ` +
          `${manifest.collections.length} collections, ${documents} documents into ${folder}\n`,
      );
    } else {
      const restored = await restoreDatabase(database.db, folder, { drop: values.drop ?? false });
      process.stdout.write(
        `restored ${restored.collections} collections, ${restored.documents} documents into ${database.db.databaseName}\n`,
      );
    }
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      err instanceof ConfigError
        ? `${err.message}\n`
        : `${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = err instanceof ConfigError ? 78 : 1;
  },
);
