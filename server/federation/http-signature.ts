import {
  createHash,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { Lru } from '../core/lru.js';

type CryptoKey = webcrypto.CryptoKey;

/**
 * HTTP Signatures as the fediverse uses them (draft-cavage-http-signatures-12, as Mastodon signs and
 * verifies): `rsa-sha256`, and `hs2019` with an RSA key (the algorithm then comes from the key; GoToSocial
 * and others send it). activitypub-express's registry dependency refuses hs2019 and signs `req.url`, so the
 * node signs and checks itself (docs/federation.md, "Signatures").
 */

export interface ParsedSignature {
  keyId: string;
  algorithm: string;
  headers: string[];
  signature: Buffer;
}

export class SignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureError';
  }
}

/** Parse a `Signature` header (`keyId="…",algorithm="…",headers="…",signature="…"`). */
export function parseSignature(header: string | undefined): ParsedSignature {
  if (!header) throw new SignatureError('no Signature header');
  const fields = new Map<string, string>();
  for (const m of header.matchAll(/([a-zA-Z]+)="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
  const keyId = fields.get('keyId');
  const signature = fields.get('signature');
  if (!keyId || !signature) throw new SignatureError('the Signature header has no keyId or signature');
  return {
    keyId,
    algorithm: (fields.get('algorithm') ?? 'hs2019').toLowerCase(),
    headers: (fields.get('headers') ?? 'date').toLowerCase().split(/\s+/).filter(Boolean),
    signature: Buffer.from(signature, 'base64'),
  };
}

export interface SignedRequest {
  method: string;
  /** Path and query as sent on the request line. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** The string a signature covers: one `name: value` line per listed header. */
export function signingString(req: SignedRequest, headers: string[]): string {
  return headers
    .map((name) => {
      if (name === '(request-target)') return `(request-target): ${req.method.toLowerCase()} ${req.path}`;
      const value = req.headers[name];
      if (value === undefined) throw new SignatureError(`the signed header ${name} is missing`);
      return `${name}: ${Array.isArray(value) ? value.join(', ') : value}`;
    })
    .join('\n');
}

/** Parsed public keys by PEM (parsing one costs more than verifying with it). */
const publicKeys = new Lru<string, KeyObject>(2000);

export const digestOf = (body: Buffer | string) =>
  `SHA-256=${createHash('sha256').update(body).digest('base64')}`;

export interface VerifyOptions {
  /** Largest accepted difference between the Date header and now. */
  maxSkewMs: number;
  now?: Date;
  /** The raw body of a POST, to compare with its Digest. */
  body?: Buffer;
}

/**
 * Check a request's signature against the key the caller fetched for `parsed.keyId`: the algorithm is one
 * we accept for an RSA key; (request-target), host and date are signed (and digest on a POST); the Date is
 * within the window; the Digest matches the body. Throws SignatureError naming what is wrong.
 */
export function verifyRequest(
  req: SignedRequest,
  parsed: ParsedSignature,
  publicKeyPem: string,
  options: VerifyOptions,
): void {
  let key = publicKeys.get(publicKeyPem);
  if (!key) {
    key = createPublicKey(publicKeyPem);
    publicKeys.set(publicKeyPem, key);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new SignatureError('only RSA keys are accepted');
  if (parsed.algorithm !== 'rsa-sha256' && parsed.algorithm !== 'hs2019')
    throw new SignatureError(`the algorithm ${parsed.algorithm} is not accepted`);
  const post = req.method.toUpperCase() === 'POST';
  for (const required of ['(request-target)', 'host', 'date', ...(post ? ['digest'] : [])]) {
    if (!parsed.headers.includes(required))
      throw new SignatureError(`the signature does not cover ${required}`);
  }
  const date = Date.parse(String(req.headers.date ?? ''));
  if (Number.isNaN(date)) throw new SignatureError('the Date header is missing or invalid');
  if (Math.abs((options.now ?? new Date()).getTime() - date) > options.maxSkewMs)
    throw new SignatureError('the Date header is outside the accepted window');
  if (post) {
    const digest = String(req.headers.digest ?? '');
    const sha = digest
      .split(',')
      .map((d) => d.trim())
      .find((d) => d.toUpperCase().startsWith('SHA-256='));
    if (!sha || !options.body || sha.slice(8) !== digestOf(options.body).slice(8))
      throw new SignatureError('the Digest header does not match the body');
  }
  const ok = cryptoVerify('sha256', Buffer.from(signingString(req, parsed.headers)), key, parsed.signature);
  if (!ok) throw new SignatureError('the signature does not verify');
}

export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** The body's Digest, when the caller already has it (one activity to many inboxes). */
  digest?: string;
}

/** The headers to send and the text to sign: Date, Host and (with a body) Digest added. */
function prepare(
  input: OutgoingRequest,
  now: Date,
): { headers: Record<string, string>; names: string[]; text: string } {
  const url = new URL(input.url);
  const headers: Record<string, string> = { ...input.headers, host: url.host, date: now.toUTCString() };
  const names = ['(request-target)', 'host', 'date'];
  if (input.body !== undefined) {
    headers.digest = input.digest ?? digestOf(input.body);
    names.push('digest');
  }
  const text = signingString({ method: input.method, path: url.pathname + url.search, headers }, names);
  return { headers, names, text };
}

const signatureHeader = (keyId: string, names: string[], signature: Buffer) =>
  `keyId="${keyId}",algorithm="rsa-sha256",headers="${names.join(' ')}",signature="${signature.toString('base64')}"`;

/** Sign an outgoing request: adds Date, Host, Digest (with a body) and Signature to `headers`. */
export function signRequest(
  input: OutgoingRequest,
  key: { keyId: string; privateKeyPem: string | KeyObject },
  now = new Date(),
): Record<string, string> {
  const { headers, names, text } = prepare(input, now);
  headers.signature = signatureHeader(
    key.keyId,
    names,
    cryptoSign('sha256', Buffer.from(text), key.privateKeyPem),
  );
  return headers;
}

/**
 * The same, signing on libuv's thread pool (WebCrypto) instead of the event loop: a process delivering
 * thousands of activities a second keeps its event loop for the network.
 */
export async function signRequestAsync(
  input: OutgoingRequest,
  key: { keyId: string; cryptoKey: CryptoKey },
  now = new Date(),
): Promise<Record<string, string>> {
  const { headers, names, text } = prepare(input, now);
  const signature = await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', key.cryptoKey, Buffer.from(text));
  headers.signature = signatureHeader(key.keyId, names, Buffer.from(signature));
  return headers;
}

/** Something that signs bytes with an actor's key: RSASSA-PKCS1-v1_5 over SHA-256 (`rsa-sha256`). */
export interface RequestSigner {
  keyId: string;
  sign(data: Buffer): Promise<Buffer>;
}

/** The same as `signRequest`, with the key behind a signer (the thread pool's, or a PEM's). */
export async function signCavage(
  input: OutgoingRequest,
  signer: RequestSigner,
  now = new Date(),
): Promise<Record<string, string>> {
  const { headers, names, text } = prepare(input, now);
  headers.signature = signatureHeader(signer.keyId, names, await signer.sign(Buffer.from(text)));
  return headers;
}

/** A signer on libuv's thread pool (WebCrypto), for a key made by `toSigningCryptoKey`. */
export const cryptoKeySigner = (keyId: string, cryptoKey: CryptoKey): RequestSigner => ({
  keyId,
  sign: async (data) => Buffer.from(await webcrypto.subtle.sign('RSASSA-PKCS1-v1_5', cryptoKey, data)),
});

/** A signer with a private key at hand (PEM or KeyObject), signing on the event loop. */
export const pemSigner = (keyId: string, privateKey: string | KeyObject): RequestSigner => ({
  keyId,
  sign: (data) => Promise.resolve(cryptoSign('sha256', data, privateKey)),
});

/** A private key as WebCrypto wants it, for `signRequestAsync`. */
export function toSigningCryptoKey(key: KeyObject): Promise<CryptoKey> {
  return webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false,
    ['sign'],
  );
}
