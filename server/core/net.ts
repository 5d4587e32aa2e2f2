import type http from 'node:http';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Ports handed out here sit below Linux's ephemeral range (32768+), which the OS uses for port-0 listeners
 * and for the local end of every outgoing connection: a port chosen here and bound a moment later cannot
 * be taken in between by one of those. */
const LOW = 20_000;
const HIGH = 32_000;

/** Whether `port` can be listened on at `host` now: that port, or null. */
export function tryListen(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, host, () => {
      const address = srv.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

/** Ports this process handed out lately (the last HANDED_KEPT): not handed out again. */
const handed = new Set<number>();
const HANDED_KEPT = 1000;

function hand(port: number): number {
  handed.add(port);
  if (handed.size > HANDED_KEPT) handed.delete(handed.values().next().value!);
  return port;
}

/**
 * A free TCP port on loopback (for a server that must know its port before it listens). A port is free
 * until someone listens on it: two servers started together (a node and its identity provider) each asked
 * for one before either listened, and were once both given the same port. A port handed out lately is not
 * handed out again by this process.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const candidate = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handed.has(candidate)) continue;
    const port = await tryListen(candidate, host);
    if (port) return hand(port);
  }
  const port = await tryListen(0, host);
  if (!port) throw new Error('no free port');
  return hand(port);
}

/**
 * Whether an address (as Express reports `req.ip`) lies in one of the ranges; an IPv4-mapped IPv6 address
 * (`::ffff:10.0.0.1`) is judged as the IPv4 address it carries.
 */
export function inRanges(address: string | undefined, cidrs: string[]): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  const ip = ipaddr.process(address);
  return cidrs.some((cidr) => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return range.kind() === ip.kind() && ip.match([range, bits] as never);
  });
}

/** Loopback, in both families. */
export const LOOPBACK_RANGES = ['127.0.0.0/8', '::1/128'];

/** How long an idle keep-alive connection is kept open (longer than clients and proxies keep theirs). */
export const KEEP_ALIVE_MS = 65_000;

/**
 * Keep idle connections longer than the client keeps them: with Node's 5 s, a server closing an idle socket
 * just as a client reused it failed that request ("other side closed", seen under load in the federation
 * tests), and proxies commonly keep theirs 60 s.
 */
export function keepConnectionsAlive(server: http.Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
}
