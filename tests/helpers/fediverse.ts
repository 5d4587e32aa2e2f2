import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signRequest } from '../../server/federation/http-signature.js';
import { eventually } from './files.js';

export interface FakeActor {
  id: string;
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface ReceivedPost {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A stand-in for another server of the fediverse (a Mastodon-like peer we cannot run here): it serves actor
 * documents with their keys, signs what a test sends as one of its actors, and records what is posted to
 * its inboxes. `status` decides how its inboxes answer.
 */
export class FakeServer {
  readonly received: ReceivedPost[] = [];
  readonly documents = new Map<string, unknown>();
  readonly redirects = new Map<string, string>();
  /** Paths fetched with GET, in order. */
  readonly gets: string[] = [];
  status: (req: http.IncomingMessage) => number = () => 202;
  /** Extra headers on an inbox's answer (e.g. a Location). */
  statusHeaders: (req: http.IncomingMessage) => Record<string, string> = () => ({});
  delayMs = 0;
  /** POSTs being answered now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  private server!: http.Server;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      if (req.method === 'POST') {
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
        res.on('close', () => this.inFlight--);
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = () => {
          if (req.method === 'POST') {
            this.received.push({
              path: req.url ?? '',
              headers: req.headers,
              body: Buffer.concat(chunks).toString(),
            });
            res.writeHead(this.status(req), this.statusHeaders(req)).end();
            return;
          }
          this.gets.push(req.url ?? '');
          const redirect = this.redirects.get(req.url ?? '');
          if (redirect) return void res.writeHead(302, { location: redirect }).end();
          const doc = this.documents.get(req.url ?? '');
          if (!doc) return void res.writeHead(404).end();
          res.writeHead(200, { 'content-type': 'application/activity+json' }).end(JSON.stringify(doc));
        };
        if (this.delayMs) setTimeout(answer, this.delayMs);
        else answer();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  /** A Person served at /users/<name>, with a fresh RSA key. */
  actor(name: string): FakeActor {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const id = `${this.url}/users/${name}`;
    this.documents.set(`/users/${name}`, {
      '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
      id,
      type: 'Person',
      preferredUsername: name,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      endpoints: { sharedInbox: `${this.url}/inbox` },
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: publicKey },
    });
    return { id, keyId: `${id}#main-key`, privateKeyPem: privateKey, publicKeyPem: publicKey };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** POST an activity to an inbox, signed as `actor` (options break one thing at a time). */
export async function postSigned(
  inbox: string,
  activity: unknown,
  actor: { keyId: string; privateKeyPem: string },
  options: {
    algorithm?: string;
    date?: Date;
    tamper?: (body: string) => string;
    contentType?: string;
    unsigned?: boolean;
  } = {},
): Promise<{ status: number; body: string; type: string }> {
  const body = JSON.stringify(activity);
  let headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/activity+json',
  };
  if (!options.unsigned) {
    headers = signRequest({ method: 'POST', url: inbox, headers, body }, actor, options.date);
    if (options.algorithm)
      headers.signature = headers.signature!.replace(
        'algorithm="rsa-sha256"',
        `algorithm="${options.algorithm}"`,
      );
  }
  delete headers.host;
  const res = await fetch(inbox, {
    method: 'POST',
    headers,
    body: options.tamper ? options.tamper(body) : body,
  });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** GET a document as a server would, signed as `actor` (or unsigned). */
export async function getSigned(
  url: string,
  actor?: { keyId: string; privateKeyPem: string },
): Promise<{ status: number; body: string }> {
  let headers: Record<string, string> = { accept: 'application/activity+json' };
  if (actor) headers = signRequest({ method: 'GET', url, headers }, actor);
  delete headers.host;
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

/** Wait until `check` holds (it may be async); fail the test if it does not within `ms`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  if (
    !(await eventually(
      async () => check(),
      (ok) => ok,
      ms,
    ))
  )
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** A public group made through the REST API by `client` (its owner); returns the group's actor IRI. */
export async function createPublicGroup(
  client: {
    call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
    nodeUrl: string;
  },
  handle: string,
  options: { joinPolicy?: 'open' | 'request' | 'invite'; name?: string } = {},
): Promise<string> {
  const res = await client.call('POST', '/groups', {
    handle,
    name: options.name ?? handle,
    visibility: 'public',
    joinPolicy: options.joinPolicy ?? 'open',
  });
  if (res.status !== 201)
    throw new Error(`could not create group ${handle}: ${res.status} ${JSON.stringify(res.body)}`);
  return `${client.nodeUrl}/ap/a/g.${handle}`;
}
