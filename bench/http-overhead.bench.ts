// The cost of Ensemble's request pipeline (helmet, request ids, logging, sessions, routing, problem+json)
// against a bare node:http server answering the same JSON, measured in the same run on this machine.
// Run: npm run bench:http
import http from 'node:http';
import os from 'node:os';
import { freePort } from '../server/core/net.js';
import { load, startBenchDatabase, startBenchNode, table, writeSection } from './lib.js';

const listen = (server: http.Server, port: number) =>
  new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

const { uri, database, close: closeDatabase } = await startBenchDatabase('bench');
const ensemble = await startBenchNode(uri, database);

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
  await load('Ensemble GET /healthz (full middleware chain)', `${ensemble.url}/healthz`, {
    seconds,
  }),
  await load('Ensemble GET /readyz (database ping)', `${ensemble.url}/readyz`, { seconds }),
  await load('Ensemble GET /api/v1/organizations (database query)', `${ensemble.url}/api/v1/organizations`, {
    seconds,
  }),
];
const ratio = rows[1]!.requestsPerSecond / rows[0]!.requestsPerSecond;
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version}; 20 connections, ${seconds} s per case, load generator (autocannon) in its own process.

${table(rows)}

The full middleware chain serves ${(ratio * 100).toFixed(0)} % of the bare server's rate.`;
await writeSection('http-overhead', markdown);
process.stdout.write(`${markdown}\n`);

bare.close();
await ensemble.close();
await closeDatabase();
