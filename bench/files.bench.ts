// A 1 GiB file up and down through the HTTP API (multipart upload streamed into GridFS, download streamed
// out), against the same bytes through the driver's GridFS bucket, in the same run; with the process's
// peak RSS growth during each phase (goal: under 64 MiB for the API).
// Run: npm run bench:files   (BENCH_FILE_MIB scales the file for a quick look)
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket } from 'mongodb';
import { startBenchDatabase, startSignedInNode, writeSection } from './lib.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_FILE_MIB ?? 1024) * MIB;

/** SIZE bytes, made from one random MiB repeated (sniffed as application/octet-stream). */
const block = randomBytes(MIB);
function source(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= SIZE) return void this.push(null);
      const n = Math.min(MIB, SIZE - sent);
      sent += n;
      this.push(n === MIB ? block : block.subarray(0, n));
    },
  });
}
const expectedSha = (() => {
  const h = createHash('sha256');
  for (let sent = 0; sent < SIZE; sent += MIB) h.update(block.subarray(0, Math.min(MIB, SIZE - sent)));
  return h.digest('hex');
})();

/** Counts what it receives and throws it away. */
const sink = () => {
  let bytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      done();
    },
  });
  return { stream, bytes: () => bytes };
};

/** Run `work`, sampling RSS every 20 ms: seconds taken and peak RSS growth over the level before it. */
async function measure(work: () => Promise<void>) {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds, mibPerSecond: SIZE / MIB / seconds, rssGrowthMib: (peak - base) / MIB };
}

const { uri, database, close: closeDatabase } = await startBenchDatabase('files');
const { ensemble, client, idp, browser } = await startSignedInNode(uri, database, {
  FILE_MAX_SIZE: `${Math.ceil(SIZE / MIB) + 1}mb`,
  GROUP_STORAGE_QUOTA: '0',
});
const made = await client.call('POST', '/groups', {
  handle: 'bench',
  name: 'Bench',
  visibility: 'members',
  joinPolicy: 'invite',
});
if (made.status !== 201) throw new Error(`could not create the group: ${made.status}`);
const cookie = [...browser.cookies(new URL(ensemble.url).origin)].map(([k, v]) => `${k}=${v}`).join('; ');

const bucket = new GridFSBucket(database.db, { bucketName: 'rawbench' });
let rawId: unknown;
const rawUp = await measure(async () => {
  const upload = bucket.openUploadStream('raw.bin');
  await pipeline(source(), upload);
  rawId = upload.id;
});
const rawDown = await measure(async () => {
  const out = sink();
  await pipeline(bucket.openDownloadStream(rawId as never), out.stream);
  if (out.bytes() !== SIZE) throw new Error(`raw download gave ${out.bytes()} bytes`);
});

let fileId = '';
const apiUp = await measure(async () => {
  const boundary = 'ensemble-bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of source()) yield chunk as Buffer;
      yield tail;
    })(),
  );
  const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      `${ensemble.url}/api/v1/groups/bench/files`,
      {
        method: 'POST',
        headers: {
          cookie,
          'x-csrf-token': '',
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + SIZE + tail.length),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    client
      .token()
      .then((token) => {
        req.setHeader('x-csrf-token', token);
        body.pipe(req);
      })
      .catch(reject);
  });
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${response.text}`);
  const [file] = JSON.parse(response.text) as { id: string; sha256: string; size: number }[];
  if (file!.size !== SIZE || file!.sha256 !== expectedSha) throw new Error('the stored file differs');
  fileId = file!.id;
});
const apiDown = await measure(async () => {
  const out = sink();
  await new Promise<void>((resolve, reject) => {
    http
      .get(`${ensemble.url}/api/v1/files/${fileId}/content`, { headers: { cookie } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`download answered ${res.statusCode}`));
        pipeline(res, out.stream).then(resolve, reject);
      })
      .on('error', reject);
  });
  if (out.bytes() !== SIZE) throw new Error(`API download gave ${out.bytes()} bytes`);
});

const row = (name: string, m: { seconds: number; mibPerSecond: number; rssGrowthMib: number }) =>
  `| ${name} | ${m.seconds.toFixed(1)} | ${m.mibPerSecond.toFixed(1)} | ${m.rssGrowthMib.toFixed(1)} |`;
const markdown = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}, ${database.identity.product} ${database.identity.version} (SQLite); one ${Math.round(SIZE / MIB)} MiB file, client and node in one process.

| case | seconds | MiB/s | peak RSS growth (MiB) |
| --- | --- | --- | --- |
${row('raw GridFS upload through the driver (baseline)', rawUp)}
${row('upload through the API (multipart → GridFS, SHA-256 and type sniffed on the way)', apiUp)}
${row('raw GridFS download through the driver (baseline)', rawDown)}
${row('download through the API', apiDown)}

Upload through the API: ${(apiUp.mibPerSecond / rawUp.mibPerSecond).toFixed(2)}× the raw rate; download: ${(apiDown.mibPerSecond / rawDown.mibPerSecond).toFixed(2)}×. Peak RSS growth through the API: ${apiUp.rssGrowthMib.toFixed(1)} MiB up, ${apiDown.rssGrowthMib.toFixed(1)} MiB down (goal: under 64 MiB).`;
await writeSection('files', markdown);
process.stdout.write(`${markdown}\n`);

await ensemble.close();
await idp.close();
await closeDatabase();
