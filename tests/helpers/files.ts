import http from 'node:http';
import type { Db } from 'mongodb';
import type { ApiClient } from './browser.js';

/** A multipart form of files, as a browser sends it. */
export function filesForm(
  files: { bytes: Buffer; name: string; type?: string }[],
  field = 'files',
): FormData {
  const form = new FormData();
  for (const f of files)
    form.append(
      field,
      new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'application/octet-stream' }),
      f.name,
    );
  return form;
}

/** GET with the client's session, returning status, headers and the raw bytes. */
export async function download(client: ApiClient, path: string, headers: Record<string, string> = {}) {
  const res = await client.browser.request(`${client.nodeUrl}/api/v1${path}`, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** What an upload leaves in the database: GridFS chunks and files, and file documents. */
export async function storedCounts(db: Db) {
  const count = (name: string) => db.collection(name).countDocuments();
  return {
    chunks: await count('blobs.chunks'),
    blobs: await count('blobs.files'),
    files: await count('files'),
    versions: await count('file_versions'),
  };
}

/**
 * Start a multipart upload over a raw socket, send `sendBytes` of a file announced as much larger, then
 * drop the connection: the client that goes away mid-upload.
 */
export async function abortedUpload(client: ApiClient, path: string, sendBytes: number): Promise<void> {
  const token = await client.token();
  const origin = new URL(client.nodeUrl);
  const cookie = [...client.browser.cookies(origin.origin)].map(([k, v]) => `${k}=${v}`).join('; ');
  const boundary = 'ensemble-abort-test';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: origin.hostname,
      port: origin.port,
      method: 'POST',
      path: `/api/v1${path}`,
      headers: {
        cookie,
        'x-csrf-token': token,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + sendBytes * 10),
      },
    });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(head);
    let sent = 0;
    const pump = () => {
      while (sent < sendBytes) {
        const n = Math.min(64 * 1024, sendBytes - sent);
        sent += n;
        if (!req.write(Buffer.alloc(n, 7))) {
          req.once('drain', pump);
          return;
        }
      }
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    };
    pump();
  });
}

/** Poll until `check` holds (work the server finishes after answering), or fail after `ms`. */
export async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
