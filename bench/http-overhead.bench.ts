// The cost of Ensemble's request pipeline (helmet, request ids, logging, sessions, routing, problem+json)
// against a bare node:http server answering the same JSON, measured in the same run on this machine.
// Run: npm run bench:http
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../server/config.js';
import { freePort } from '../server/core/net.js';
import { projectRoot } from '../server/core/paths.js';
import { connectDatabase } from '../server/db/client.js';
import { ensureCollections } from '../server/db/collections.js';
import { startEmbeddedDatabase } from '../server/db/embedded.js';
import { composeNode } from '../server/node.js';
import { load, table, writeSection } from './lib.js';

const listen = (server: http.Server, port: number) =>
  new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-bench-'));
const logger = pino({ level: 'warn' });
const embedded = await startEmbeddedDatabase({
  dataDir,
  toolsDir: path.join(projectRoot, '.tools'),
  allowDownload: false,
  logger,
});
const database = await connectDatabase({ uri: embedded.uri, dbName: 'bench' });
await ensureCollections(database.db);

const nodePort = await freePort();
const config = loadConfig({
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  PORT: String(nodePort),
  MONGODB_URI: embedded.uri,
  PUBLIC_URL: `http://127.0.0.1:${nodePort}`,
  SESSION_SECRET: 'bench-secret-bench-secret-bench-secret',
  OIDC_ISSUERS: JSON.stringify([
    {
      id: 'none',
      name: { en: 'n', fr: 'n' },
      issuer: 'http://127.0.0.1:9',
      clientId: 'c',
      clientSecret: 's',
    },
  ]),
});
const node = await composeNode({
  config,
  logger: pino({ level: 'silent' }),
  client: database.client,
  db: database.db,
});
const ensemble = http.createServer(node.app);
await listen(ensemble, nodePort);

const barePort = await freePort();
const body = JSON.stringify({ status: 'ok' });
const bare = http.createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
await listen(bare, barePort);

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rows = [
  await load('bare node:http, static JSON (baseline)', `http://127.0.0.1:${barePort}/`, { seconds }),
  await load('Ensemble GET /healthz (full middleware chain)', `http://127.0.0.1:${nodePort}/healthz`, {
    seconds,
  }),
  await load('Ensemble GET /readyz (database ping)', `http://127.0.0.1:${nodePort}/readyz`, { seconds }),
  await load(
    'Ensemble GET /api/v1/organizations (database query)',
    `http://127.0.0.1:${nodePort}/api/v1/organizations`,
    { seconds },
  ),
];
const ratio = rows[1]!.requestsPerSecond / rows[0]!.requestsPerSecond;
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version}; 20 connections, ${seconds} s per case, load generator (autocannon) in its own process.

${table(rows)}

The full middleware chain serves ${(ratio * 100).toFixed(0)} % of the bare server's rate.`;
await writeSection('http-overhead', markdown);
process.stdout.write(`${markdown}\n`);

ensemble.closeAllConnections();
ensemble.close();
bare.close();
await node.close();
await database.close();
await embedded.stop();
fs.rmSync(dataDir, { recursive: true, force: true });
