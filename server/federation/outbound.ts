import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Connections are kept and reused per host. A kept connection was made to an address checked when it
 * was opened (the pinned lookup), so reusing it never reaches an address the policy refuses.
 */
const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 8, timeout: 30_000 };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

/** Why an outbound request was not made or not completed. */
export class OutboundRefusedError extends Error {
  constructor(
    message: string,
    readonly reason: 'scheme' | 'address' | 'redirects' | 'size' | 'timeout' | 'network',
  ) {
    super(message);
    this.name = 'OutboundRefusedError';
  }

  /** No answer in time, or no connection: the same request may succeed later. */
  get transient(): boolean {
    return this.reason === 'timeout' || this.reason === 'network';
  }
}

export interface OutboundPolicy {
  /** Address ranges reachable although private or loopback (tests, a local demo): CIDRs. */
  allowedCidrs: string[];
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** Checked at every hop before connecting (the federation policy). */
  allowHost?: (host: string) => boolean;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
  /**
   * With `stream`: a 2xx answer's body, not read yet (empty `body`); its reader must consume or destroy it.
   * The time limit still covers the whole exchange.
   */
  stream?: http.IncomingMessage;
}

/**
 * Whether the node may connect to this address: public unicast only, unless a configured range covers it.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function addressAllowed(address: string, allowedCidrs: string[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  for (const cidr of allowedCidrs) {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    if (range.kind() === ip.kind() && ip.match([range, bits] as never)) return true;
  }
  return ip.range() === 'unicast';
}

/** Resolve a host name to addresses the policy allows, refusing it if any address is not allowed. */
async function resolveHost(
  host: string,
  policy: OutboundPolicy,
): Promise<{ address: string; family: number }> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addresses = ipaddr.isValid(bare)
    ? [{ address: bare, family: ipaddr.parse(bare).kind() === 'ipv6' ? 6 : 4 }]
    : await dnsLookup(bare, { all: true, verbatim: true }).catch(() => {
        throw new OutboundRefusedError(`${host} does not resolve`, 'network');
      });
  // Every address must pass: a name that also points inside would let a second lookup land there.
  const refused = addresses.find((a) => !addressAllowed(a.address, policy.allowedCidrs));
  if (refused || !addresses[0])
    throw new OutboundRefusedError(
      `${host} resolves to an address the node does not reach (${refused?.address ?? 'none'})`,
      'address',
    );
  return addresses[0];
}

/**
 * Every request the node makes to another server goes through here: http(s) only, no credentials in the
 * URL, every hop's address checked (and the connection pinned to the checked address, so DNS cannot change
 * its answer in between), a time limit for the whole exchange, a body size limit, and a bounded number of
 * redirects (each checked again).
 */
export async function safeFetch(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    stream?: boolean;
    /** Told when the request (headers and body) is handed to its connection, at each hop. */
    onSent?: () => void;
  },
  policy: OutboundPolicy,
): Promise<OutboundResponse> {
  const deadline = Date.now() + policy.timeoutMs;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:')
      throw new OutboundRefusedError(
        `only http and https URLs are fetched, not ${current.protocol}`,
        'scheme',
      );
    if (current.username || current.password)
      throw new OutboundRefusedError('URLs with credentials are not fetched', 'scheme');
    if (policy.allowHost && !policy.allowHost(current.host))
      throw new OutboundRefusedError(`${current.host} is outside this node's federation policy`, 'address');
    const target = await resolveHost(current.hostname, policy);
    const response = await request(
      current,
      init,
      target,
      Math.max(1, deadline - Date.now()),
      policy.maxBytes,
    );
    const location = response.headers.location;
    const method = (init.method ?? 'GET').toUpperCase();
    // Only GETs and 307/308 are followed: a POST is never turned into a bodiless GET that "succeeds".
    const follow = method === 'GET' || response.status === 307 || response.status === 308;
    if (response.status >= 300 && response.status < 400 && location && follow) {
      if (hop >= policy.maxRedirects)
        throw new OutboundRefusedError(`more than ${policy.maxRedirects} redirects`, 'redirects');
      if (!URL.canParse(location, current.toString()))
        throw new OutboundRefusedError(
          `a redirect to an invalid URL (${location.slice(0, 100)})`,
          'redirects',
        );
      current = new URL(location, current);
      continue;
    }
    return { ...response, url: current.toString() };
  }
}

function request(
  url: URL,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | undefined;
    stream?: boolean | undefined;
    onSent?: (() => void) | undefined;
  },
  target: { address: string; family: number },
  timeoutMs: number,
  maxBytes: number,
): Promise<Omit<OutboundResponse, 'url'>> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as never as (e: null, a: unknown[]) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const tls = url.protocol === 'https:';
  const client = tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        lookup: pinned,
        timeout: timeoutMs,
        agent: tls ? httpsAgent : httpAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let failed = false;
        const tooLarge = () => {
          failed = true;
          const err = new OutboundRefusedError(`the answer is larger than ${maxBytes} bytes`, 'size');
          reject(err);
          req.destroy(err);
        };
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
        const status = res.statusCode ?? 0;
        if (init.stream && status >= 200 && status < 300) {
          // The reader takes the body as it comes; past maxBytes it fails as a buffered one does.
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes && !failed) {
              failed = true;
              res.destroy(new OutboundRefusedError(`the answer is larger than ${maxBytes} bytes`, 'size'));
            }
          });
          res.pause();
          resolve({ status, headers: res.headers, body: Buffer.alloc(0), stream: res });
          return;
        }
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) tooLarge();
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (!failed)
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(
      () => req.destroy(new OutboundRefusedError(`no answer within ${timeoutMs} ms`, 'timeout')),
      timeoutMs,
    );
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () =>
      req.destroy(new OutboundRefusedError(`no answer within ${timeoutMs} ms`, 'timeout')),
    );
    req.on('error', (err) =>
      reject(err instanceof OutboundRefusedError ? err : new OutboundRefusedError(err.message, 'network')),
    );
    if (init.onSent) req.on('finish', init.onSent);
    req.end(init.body);
  });
}
