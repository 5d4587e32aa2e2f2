#!/usr/bin/env node
// Prepares what `npm run dev`, `npm test` and the quick start need, using only the package registries:
// the embedded database server (FerretDB, built once with the machine's Go) unless a database is given,
// and the web client (client/dist).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`[setup] ${msg}\n`);

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  say(`Node ${process.versions.node} is too old: Ensemble needs Node 20.19 or newer.`);
  process.exit(1);
}

// The tests also start a real redis-server and PostgreSQL and drive a real Chromium (Debian's packages).
if (process.argv.includes('--tests')) {
  const r = spawnSync('bash', [path.join(root, 'scripts', 'install-system-deps.sh')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const usesOwnDatabase =
  process.env.MONGODB_URI || process.env.TEST_MONGODB_URI || process.env.MONGOMS_SYSTEM_BINARY;
if (!usesOwnDatabase) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-ferretdb.mjs')], {
    stdio: 'inherit',
  });
  if (r.status === 3)
    say('no Go toolchain: the embedded database will use a local or downloaded mongod instead');
  else if (r.status !== 0) process.exit(r.status ?? 1);
}

// The web client (client/dist), built when its sources changed since the last build (docs/adr/0014).
const { buildClient } = await import('./build-client.mjs');
await buildClient();
