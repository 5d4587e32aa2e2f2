import { constants, generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serializeDictionary, type BareItem, type InnerList, type Item } from 'structured-headers';
import { signRequest } from '../../server/federation/http-signature.js';
import { contentDigestOf, signatureBase } from '../../server/federation/message-signature.js';
import { pemToMultikey } from '../../server/federation/multikey.js';
import { eventually } from './files.js';

export interface FakeActor {
  id: string;
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
  /** An Ed25519 key listed as a Multikey in `assertionMethod` (FEP-521a), when asked for. */
  ed25519?: { keyId: string; privateKeyPem: string; publicKeyPem: string };
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
  status: (req: http.IncomingMessage, body: Buffer) => number = () => 202;
  /** Extra headers on an inbox's answer (e.g. a Location). */
  statusHeaders: (req: http.IncomingMessage, body: Buffer) => Record<string, string> = () => ({});
  /** Decides how a GET is answered before its document is looked up (e.g. authorized fetch): null serves it. */
  authorizeGet: (req: http.IncomingMessage) => { status: number; headers?: Record<string, string> } | null =
    () => null;
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
            const body = Buffer.concat(chunks);
            this.received.push({ path: req.url ?? '', headers: req.headers, body: body.toString() });
            res.writeHead(this.status(req, body), this.statusHeaders(req, body)).end();
            return;
          }
          this.gets.push(req.url ?? '');
          const refusal = this.authorizeGet(req);
          if (refusal) return void res.writeHead(refusal.status, refusal.headers ?? {}).end();
          const redirect = this.redirects.get(req.url ?? '');
          if (redirect) return void res.writeHead(302, { location: redirect }).end();
          const doc = this.documents.get(req.url ?? '');
          if (!doc) return void res.writeHead(404).end();
          // Bytes (a file a post carries) are served as they are.
          if (Buffer.isBuffer(doc))
            return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(doc);
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

  /** An actor (a Person at /users/<name> unless told) with a fresh RSA key (and an Ed25519 Multikey when asked). */
  actor(name: string, options: { ed25519?: boolean; path?: string; type?: string } = {}): FakeActor {
    const path = options.path ?? `/users/${name}`;
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const id = `${this.url}${path}`;
    let ed25519: FakeActor['ed25519'];
    if (options.ed25519) {
      const pair = generateKeyPairSync('ed25519', {
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      ed25519 = { keyId: `${id}#ed25519-key`, privateKeyPem: pair.privateKey, publicKeyPem: pair.publicKey };
    }
    this.documents.set(path, {
      '@context': [
        'https://www.w3.org/ns/activitystreams',
        'https://w3id.org/security/v1',
        ...(ed25519 ? ['https://w3id.org/security/data-integrity/v1'] : []),
      ],
      ...(ed25519
        ? {
            assertionMethod: [
              {
                id: ed25519.keyId,
                type: 'Multikey',
                controller: id,
                publicKeyMultibase: pemToMultikey(ed25519.publicKeyPem),
              },
            ],
          }
        : {}),
      id,
      type: options.type ?? 'Person',
      preferredUsername: name,
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      endpoints: { sharedInbox: `${this.url}/inbox` },
      publicKey: { id: `${id}#main-key`, owner: id, publicKeyPem: publicKey },
    });
    return {
      id,
      keyId: `${id}#main-key`,
      privateKeyPem: privateKey,
      publicKeyPem: publicKey,
      ...(ed25519 ? { ed25519 } : {}),
    };
  }

  /** Answer WebFinger for `acct:<name>@<host>` with this actor (so a node can invite or look it up). */
  webfinger(name: string, actor: FakeActor): void {
    const subject = `acct:${name}@${this.host}`;
    this.documents.set(`/.well-known/webfinger?resource=${encodeURIComponent(subject)}`, {
      subject,
      links: [{ rel: 'self', type: 'application/activity+json', href: actor.id }],
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** How a test signs with RFC 9421 (each option breaks or varies one thing). */
export interface Rfc9421Options {
  /** Covered components; default Mastodon's: `@method`, `@target-uri`, and `content-digest` on a POST. */
  components?: string[];
  created?: Date;
  expires?: Date;
  /** The `alg` parameter (none by default, as Mastodon). */
  alg?: string;
  /** How to sign the base: RSA PKCS#1 v1.5 (default), RSA-PSS, or Ed25519 (the actor's Multikey). */
  key?: 'rsa' | 'rsa-pss' | 'ed25519';
  label?: string;
  /** A Content-Digest other than the body's. */
  contentDigest?: string;
}

/**
 * Sign a request with RFC 9421 as a peer does (Mastodon by default): the headers to send. The base comes
 * from the node's own builder (tested against RFC 9421's vectors in tests/unit/message-signature.test.ts);
 * the choice of components, parameters and key is the test's.
 */
export function signRfc9421(
  request: { method: string; url: string; headers: Record<string, string>; body?: string },
  actor: { keyId: string; privateKeyPem: string; ed25519?: FakeActor['ed25519'] },
  options: Rfc9421Options = {},
): Record<string, string> {
  const headers: Record<string, string> = { ...request.headers, host: new URL(request.url).host };
  if (request.body !== undefined)
    headers['content-digest'] = options.contentDigest ?? contentDigestOf(request.body);
  const components = options.components ?? [
    '@method',
    '@target-uri',
    ...(request.body !== undefined ? ['content-digest'] : []),
  ];
  if (components.includes('date')) headers.date ??= new Date().toUTCString();
  const useEd = options.key === 'ed25519';
  if (useEd && !actor.ed25519) throw new Error('the actor has no Ed25519 key');
  const params = new Map<string, BareItem>([
    ['created', Math.floor((options.created ?? new Date()).getTime() / 1000)],
  ]);
  if (options.expires) params.set('expires', Math.floor(options.expires.getTime() / 1000));
  params.set('keyid', useEd ? actor.ed25519!.keyId : actor.keyId);
  if (options.alg) params.set('alg', options.alg);
  const input: InnerList = [components.map((c): Item => [c, new Map()]), params];
  const base = Buffer.from(signatureBase({ method: request.method, url: request.url, headers }, input));
  const signature = useEd
    ? sign(null, base, actor.ed25519!.privateKeyPem)
    : options.key === 'rsa-pss'
      ? sign('sha512', base, {
          key: actor.privateKeyPem,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 64,
        })
      : sign('sha256', base, actor.privateKeyPem);
  const label = options.label ?? 'sig1';
  headers['signature-input'] = serializeDictionary(new Map([[label, input]]));
  headers.signature = serializeDictionary(new Map([[label, [signature, new Map()] as Item]]));
  return headers;
}

/** POST an activity to an inbox, signed as `actor` (options break one thing at a time). */
export async function postSigned(
  inbox: string,
  activity: unknown,
  actor: { keyId: string; privateKeyPem: string; ed25519?: FakeActor['ed25519'] },
  options: {
    algorithm?: string;
    date?: Date;
    tamper?: (body: string) => string;
    contentType?: string;
    unsigned?: boolean;
    /** Sign with RFC 9421 instead of draft-cavage. */
    rfc9421?: Rfc9421Options;
    /** Change the signed headers before sending. */
    headers?: (headers: Record<string, string>) => Record<string, string>;
  } = {},
): Promise<{ status: number; body: string; type: string; headers: Headers }> {
  const body = JSON.stringify(activity);
  let headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/activity+json',
  };
  if (options.rfc9421)
    headers = signRfc9421({ method: 'POST', url: inbox, headers, body }, actor, options.rfc9421);
  else if (!options.unsigned) {
    headers = signRequest({ method: 'POST', url: inbox, headers, body }, actor, options.date);
    if (options.algorithm)
      headers.signature = headers.signature!.replace(
        'algorithm="rsa-sha256"',
        `algorithm="${options.algorithm}"`,
      );
  }
  if (options.headers) headers = options.headers(headers);
  delete headers.host;
  const res = await fetch(inbox, {
    method: 'POST',
    headers,
    body: options.tamper ? options.tamper(body) : body,
  });
  return {
    status: res.status,
    body: await res.text(),
    type: res.headers.get('content-type') ?? '',
    headers: res.headers,
  };
}

/** GET a document as a server would, signed as `actor` (or unsigned). */
export async function getSigned(
  url: string,
  actor?: { keyId: string; privateKeyPem: string },
): Promise<{ status: number; body: string; headers: Headers }> {
  let headers: Record<string, string> = { accept: 'application/activity+json' };
  if (actor) headers = signRequest({ method: 'GET', url, headers }, actor);
  delete headers.host;
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The `totalItems` of an ActivityPub collection (followers, following), read as a server would. */
export async function collectionSize(
  url: string,
  actor?: { keyId: string; privateKeyPem: string },
): Promise<number> {
  return (JSON.parse((await getSigned(url, actor)).body) as { totalItems: number }).totalItems;
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

/**
 * A person joins a group a FakeServer serves: found by its IRI and joined through the API (`client`), then
 * accepted by the group's server, signed as `group`, at the person's inbox. Returns the handle the node
 * gives the group.
 */
export async function joinFakeGroup(
  client: { call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> }, // eslint-disable-line @typescript-eslint/no-explicit-any
  server: FakeServer,
  group: FakeActor,
  personInbox: string,
): Promise<string> {
  const found = await client.call('GET', `/lookup?q=${encodeURIComponent(group.id)}`);
  if (found.status !== 200) throw new Error(`lookup of ${group.id}: ${found.status}`);
  const handle = found.body.group.handle as string;
  const joined = await client.call('POST', `/groups/${encodeURIComponent(handle)}/join`);
  if (joined.status !== 200) throw new Error(`join of ${handle}: ${joined.status}`);
  const follows = () =>
    server.received
      .map((r) => JSON.parse(r.body) as { id: string; type: string; object?: unknown })
      .filter((a) => a.type === 'Follow' && a.object === group.id);
  await waitUntil(() => follows().length > 0, 15_000, `the Follow of ${handle}`);
  const accept = {
    '@context': 'https://www.w3.org/ns/activitystreams',
    id: `${group.id}/accepts/${follows()[0]!.id.split('/').pop()!}`,
    type: 'Accept',
    actor: group.id,
    object: follows()[0]!.id,
  };
  const accepted = await postSigned(personInbox, accept, group);
  if (accepted.status !== 202) throw new Error(`Accept of the Follow: ${accepted.status} ${accepted.body}`);
  return handle;
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
