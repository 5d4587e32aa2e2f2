import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import {
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  Token,
  type BareItem,
  type InnerList,
  type Item,
  type Parameters,
} from 'structured-headers';
import { Lru } from '../core/lru.js';
import { SignatureError, type OutgoingRequest, type RequestSigner } from './http-signature.js';

/**
 * HTTP Message Signatures (RFC 9421), as Mastodon 4.5 and Fedify send them: `Signature-Input` and `Signature`
 * dictionaries, covering at least `@method`, the target (`@target-uri`, or `@authority` and `@path`) and, on
 * a body, `content-digest` (RFC 9530); `created` and `keyid` parameters. The signature base is built by the
 * `http-message-signatures` package (structured-field serialisation, derived components); which signatures
 * are acceptable, the clock and the digest are checked here (docs/federation.md, "Signatures";
 * ADR 0020).
 */

/** Algorithms accepted, by their RFC 9421 registry names. */
export const MESSAGE_ALGORITHMS = ['rsa-v1_5-sha256', 'rsa-pss-sha512', 'ed25519'] as const;
export type MessageAlgorithm = (typeof MESSAGE_ALGORITHMS)[number];

export interface ParsedMessageSignature {
  label: string;
  keyId: string;
  /** The `alg` parameter, when the signer named one. */
  alg: string | null;
  /** Seconds since the epoch. */
  created: number;
  expires: number | null;
  /** Covered component names (lower case, without their parameters). */
  components: string[];
  /** The parsed `Signature-Input` member, from which the signature base is rebuilt. */
  input: InnerList;
  signature: Buffer;
}

export interface MessageRequest {
  method: string;
  /** The absolute URI the request was sent to (the node's public origin and the request's path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

const headerText = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

const bare = (value: BareItem | undefined): string | number | null => {
  if (value instanceof Token) return value.toString();
  return typeof value === 'string' || typeof value === 'number' ? value : null;
};

/**
 * Parse `Signature-Input` and `Signature` and pick the signature to verify: the first label with a `keyid`
 * that `acceptKey` accepts (a request may carry signatures of intermediaries too). Throws SignatureError
 * naming what is malformed.
 */
export function parseMessageSignature(
  headers: Record<string, string | string[] | undefined>,
  acceptKey: (keyId: string) => boolean = () => true,
): ParsedMessageSignature {
  const inputHeader = headerText(headers['signature-input']);
  const signatureHeader = headerText(headers.signature);
  if (!inputHeader || !signatureHeader)
    throw new SignatureError('an RFC 9421 signature needs both Signature-Input and Signature');
  let inputs;
  let signatures;
  try {
    inputs = parseDictionary(inputHeader);
    signatures = parseDictionary(signatureHeader);
  } catch {
    throw new SignatureError('Signature-Input or Signature is not a structured-field dictionary');
  }
  let seen = false;
  for (const [label, member] of inputs) {
    if (!isInnerList(member)) continue;
    const params = member[1];
    const keyId = bare(params.get('keyid'));
    if (typeof keyId !== 'string') continue;
    seen = true;
    if (!acceptKey(keyId)) continue;
    const value = signatures.get(label);
    if (!value || isInnerList(value) || !(value[0] instanceof ArrayBuffer))
      throw new SignatureError(`the Signature header has no byte sequence for ${label}`);
    const created = params.get('created');
    const expires = params.get('expires');
    if (typeof created !== 'number' || !Number.isInteger(created))
      throw new SignatureError('the signature has no created parameter');
    if (expires !== undefined && (typeof expires !== 'number' || !Number.isInteger(expires)))
      throw new SignatureError('the expires parameter is not an integer');
    const alg = params.get('alg');
    if (alg !== undefined && typeof alg !== 'string')
      throw new SignatureError('the alg parameter is not a string');
    const components = member[0].map(([name]) => {
      if (typeof name !== 'string') throw new SignatureError('a covered component is not a string');
      return name.toLowerCase();
    });
    return {
      label,
      keyId,
      alg: alg ?? null,
      created,
      expires: expires ?? null,
      components,
      input: member,
      signature: Buffer.from(value[0]),
    };
  }
  throw new SignatureError(
    seen
      ? 'no signature is made with a key this node accepts'
      : 'no signature in Signature-Input has a keyid',
  );
}

/** The `Content-Digest` of a body (RFC 9530), SHA-256. */
export const contentDigestOf = (body: Buffer | string) =>
  `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;

const DIGESTS: Record<string, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** Every digest of a supported algorithm in `Content-Digest` must match the body, and there must be one. */
function checkContentDigest(header: string | undefined, body: Buffer | undefined): void {
  if (!header || !body) throw new SignatureError('the Content-Digest header is missing');
  let dict;
  try {
    dict = parseDictionary(header);
  } catch {
    throw new SignatureError('the Content-Digest header is not a structured-field dictionary');
  }
  let checked = 0;
  for (const [name, member] of dict) {
    const algorithm = DIGESTS[name];
    if (!algorithm) continue;
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer))
      throw new SignatureError(`the ${name} Content-Digest is not a byte sequence`);
    if (!createHash(algorithm).update(body).digest().equals(Buffer.from(member[0])))
      throw new SignatureError('the Content-Digest header does not match the body');
    checked++;
  }
  if (!checked) throw new SignatureError('the Content-Digest header has no sha-256 or sha-512 digest');
}

/** The signature base (RFC 9421 §2.5) of a request for one parsed signature. */
export function signatureBase(req: MessageRequest, input: InnerList): string {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = value;
  try {
    const base = httpbis.createSignatureBase(
      { fields: input[0].map((item) => serializeItem(item)) },
      { method: req.method, url: req.url, headers },
    );
    base.push(['"@signature-params"', [serializeInnerList(input)]]);
    return httpbis.formatSignatureBase(base);
  } catch (err) {
    throw new SignatureError(`the signature base cannot be built: ${(err as Error).message}`);
  }
}

const publicKeys = new Lru<string, KeyObject>(2000);
const keyOf = (pem: string): KeyObject => {
  let key = publicKeys.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    publicKeys.set(pem, key);
  }
  return key;
};

const verifiers: Record<MessageAlgorithm, (data: Buffer, key: KeyObject, signature: Buffer) => boolean> = {
  'rsa-v1_5-sha256': (data, key, signature) => cryptoVerify('sha256', data, key, signature),
  'rsa-pss-sha512': (data, key, signature) =>
    cryptoVerify(
      'sha512',
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 },
      signature,
    ),
  ed25519: (data, key, signature) => cryptoVerify(null, data, key, signature),
};

/** The algorithms a key may verify: RSA keys the two RSA schemes, Ed25519 keys ed25519. */
function algorithmsFor(key: KeyObject, alg: string | null): MessageAlgorithm[] {
  const type = key.asymmetricKeyType;
  const usable: MessageAlgorithm[] =
    type === 'rsa' ? ['rsa-v1_5-sha256', 'rsa-pss-sha512'] : type === 'ed25519' ? ['ed25519'] : [];
  if (!usable.length) throw new SignatureError(`a ${String(type)} key is not accepted`);
  if (alg === null) return usable;
  if (!(MESSAGE_ALGORITHMS as readonly string[]).includes(alg))
    throw new SignatureError(`the algorithm ${alg} is not accepted`);
  if (!usable.includes(alg as MessageAlgorithm))
    throw new SignatureError(`the algorithm ${alg} does not fit a ${String(type)} key`);
  return [alg as MessageAlgorithm];
}

export interface MessageVerifyOptions {
  /** Largest accepted difference between `created` and now, and grace after `expires`. */
  maxSkewMs: number;
  now?: Date;
  /** The raw body of a request with one, to compare with its Content-Digest. */
  body?: Buffer;
}

/**
 * What the node requires of an RFC 9421 signature before it looks at the key: `@method`; `@target-uri`, or
 * `@authority` with `@path` (and `@query` when the request has a query); `content-digest` on a POST, matching
 * the body; `created` within the window and `expires`, if any, not passed.
 */
export function checkMessageSignature(
  req: MessageRequest,
  parsed: ParsedMessageSignature,
  options: MessageVerifyOptions,
): void {
  const has = (name: string) => parsed.components.includes(name);
  if (!has('@method')) throw new SignatureError('the signature does not cover @method');
  const query = new URL(req.url).search;
  if (!has('@target-uri') && !(has('@authority') && has('@path') && (!query || has('@query'))))
    throw new SignatureError('the signature does not cover @target-uri (or @authority, @path and @query)');
  const withBody = req.method.toUpperCase() === 'POST';
  if (withBody && !has('content-digest'))
    throw new SignatureError('the signature does not cover content-digest');
  const now = (options.now ?? new Date()).getTime();
  if (Math.abs(now - parsed.created * 1000) > options.maxSkewMs)
    throw new SignatureError('the signature was created outside the accepted window');
  if (parsed.expires !== null) {
    if (parsed.expires < parsed.created)
      throw new SignatureError('the signature expires before it was created');
    if (now > parsed.expires * 1000 + Math.min(options.maxSkewMs, 300_000))
      throw new SignatureError('the signature has expired');
  }
  if (withBody) checkContentDigest(headerText(req.headers['content-digest']), options.body);
}

/**
 * Check a request's RFC 9421 signature against the key fetched for `parsed.keyId`: the requirements above,
 * then the signature over the base the request rebuilds. Throws SignatureError naming what is wrong.
 */
export function verifyMessageSignature(
  req: MessageRequest,
  parsed: ParsedMessageSignature,
  publicKeyPem: string,
  options: MessageVerifyOptions,
): void {
  checkMessageSignature(req, parsed, options);
  verifyMessageSignatureBytes(req, parsed, publicKeyPem);
}

/** The cryptographic check alone: the signature over the rebuilt base, with an algorithm fitting the key. */
export function verifyMessageSignatureBytes(
  req: MessageRequest,
  parsed: ParsedMessageSignature,
  publicKeyPem: string,
): void {
  const key = keyOf(publicKeyPem);
  const algorithms = algorithmsFor(key, parsed.alg);
  const data = Buffer.from(signatureBase(req, parsed.input));
  // Without `alg`, an RSA key may have signed with either RSA scheme (RFC 9421 §3.2: the key decides).
  if (!algorithms.some((alg) => verifiers[alg](data, key, parsed.signature)))
    throw new SignatureError('the signature does not verify');
}

/** What to sign an outgoing request with: a label and the covered components. */
export interface MessageSignaturePlan {
  label: string;
  components: Item[];
  /** Parameter values a receiver asked for (`nonce`, `tag`), written as given. */
  extra?: Parameters;
}

const component = (name: string): Item => [name, new Map()];

/** What the node covers by default (as Mastodon): `@method`, `@target-uri`, and `content-digest` with a body. */
export const defaultPlan = (withBody: boolean): MessageSignaturePlan => ({
  label: 'sig1',
  components: [
    component('@method'),
    component('@target-uri'),
    ...(withBody ? [component('content-digest')] : []),
  ],
});

/**
 * Sign an outgoing request with RFC 9421 (`rsa-v1_5-sha256`, the primitive of draft-cavage's `rsa-sha256`):
 * adds Date, Content-Digest (with a body), Signature-Input and Signature. Covers the plan's components with
 * `created`, `keyid` and `alg`. Throws SignatureError when a component cannot be had from this request.
 */
export async function signMessage(
  input: OutgoingRequest,
  signer: RequestSigner,
  plan: MessageSignaturePlan = defaultPlan(input.body !== undefined),
  now = new Date(),
): Promise<Record<string, string>> {
  const url = new URL(input.url);
  const headers: Record<string, string> = { ...input.headers, host: url.host, date: now.toUTCString() };
  if (input.body !== undefined) headers['content-digest'] = contentDigestOf(input.body);
  const params: Parameters = new Map<string, BareItem>([
    ['created', Math.floor(now.getTime() / 1000)],
    ['keyid', signer.keyId],
    ['alg', 'rsa-v1_5-sha256'],
  ]);
  for (const [name, value] of plan.extra ?? []) params.set(name, value);
  const signed: InnerList = [plan.components, params];
  const base = signatureBase({ method: input.method.toUpperCase(), url: url.toString(), headers }, signed);
  const signature = await signer.sign(Buffer.from(base));
  headers['signature-input'] = serializeDictionary(new Map([[plan.label, signed]]));
  headers.signature = serializeDictionary(new Map([[plan.label, [signature, new Map()] as Item]]));
  return headers;
}

/** Component names the node can sign on its own requests: derived ones, and the headers it sends. */
const SIGNABLE = new Set([
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
  'host',
  'date',
  'content-digest',
  'content-type',
  'accept',
  'user-agent',
]);

/**
 * Read a receiver's `Accept-Signature` (RFC 9421 §5.1): the first member asking for components the node can
 * sign, with an algorithm and key it has (RSA, its own key id), becomes the plan; null when none fits.
 */
export function planFromAcceptSignature(
  header: string | string[] | undefined,
  keyId: string,
): MessageSignaturePlan | null {
  const text = headerText(header);
  if (!text) return null;
  let dict;
  try {
    dict = parseDictionary(text);
  } catch {
    return null;
  }
  for (const [label, member] of dict) {
    if (!isInnerList(member)) continue;
    const [items, params] = member;
    const alg = params.get('alg');
    // `keyid` and `alg` with values name what to use; as bare flags they only ask for the parameter.
    if (typeof alg === 'string' && alg !== 'rsa-v1_5-sha256') continue;
    const wantedKey = params.get('keyid');
    if (typeof wantedKey === 'string' && wantedKey !== keyId) continue;
    const fits = items.every(
      ([name, itemParams]) =>
        typeof name === 'string' && SIGNABLE.has(name.toLowerCase()) && itemParams.size === 0,
    );
    if (!fits || !items.length) continue;
    const extra: Parameters = new Map();
    for (const name of ['nonce', 'tag']) {
      const value = params.get(name);
      if (typeof value === 'string') extra.set(name, value);
    }
    return { label, components: items.map(([name]) => component(String(name).toLowerCase())), extra };
  }
  return null;
}

/**
 * What the node answers a request it could not authenticate (RFC 9421 §5.1): the signature it would accept,
 * `@method`, `@target-uri` and, with a body, `content-digest`, with `created` and `keyid`.
 */
export const acceptSignature = (withBody: boolean): string =>
  serializeDictionary(
    new Map([
      [
        'sig1',
        [
          defaultPlan(withBody).components,
          new Map<string, BareItem>([
            ['created', true],
            ['keyid', true],
          ]),
        ] as InnerList,
      ],
    ]),
  );
