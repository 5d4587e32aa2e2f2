import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { addressAllowed, safeFetch, type OutboundPolicy } from '../../server/federation/outbound.js';

/** The outbound address policy every fetch to another server goes through (a real HTTP server on loopback). */
describe('outbound requests', () => {
  let server: http.Server;
  let base: string;
  const closed: OutboundPolicy = { allowedCidrs: [], timeoutMs: 2000, maxBytes: 1024, maxRedirects: 2 };
  const loopback: OutboundPolicy = { ...closed, allowedCidrs: ['127.0.0.0/8'] };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '/';
      if (path === '/ok') return void res.end('hello');
      if (path === '/big') return void res.end(Buffer.alloc(5000, 1));
      if (path === '/stream') {
        // No Content-Length: the limit must hold while reading.
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(500, 2));
        return void res.end();
      }
      // Unref'd: the test worker may exit while this answer is still waiting.
      if (path === '/slow') return void setTimeout(() => res.end('late'), 5000).unref();
      if (path.startsWith('/hop/')) {
        const n = Number(path.slice(5));
        res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/ok' });
        return void res.end();
      }
      if (path === '/inside') {
        res.writeHead(302, { location: 'http://10.11.12.13/secret' });
        return void res.end();
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses private, loopback, link-local and other special addresses unless a range allows them', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '224.0.0.1',
      '255.255.255.255',
    ])
      expect({ ip, allowed: addressAllowed(ip, []) }).toEqual({ ip, allowed: false });
    for (const ip of ['8.8.8.8', '2001:4860:4860::8888', '::ffff:8.8.8.8'])
      expect({ ip, allowed: addressAllowed(ip, []) }).toEqual({ ip, allowed: true });
    expect(addressAllowed('127.0.0.1', ['127.0.0.0/8'])).toBe(true);
    expect(addressAllowed('::ffff:127.0.0.1', ['127.0.0.0/8'])).toBe(true);
    expect(addressAllowed('10.0.0.1', ['127.0.0.0/8'])).toBe(false);
  });

  it('does not connect to loopback by address or by name, nor to other schemes', async () => {
    const port = new URL(base).port;
    for (const url of [
      `${base}/ok`,
      `http://localhost:${port}/ok`,
      `http://[::1]:${port}/ok`,
      `http://[::ffff:127.0.0.1]:${port}/ok`,
    ])
      await expect(safeFetch(url, {}, closed)).rejects.toMatchObject({ reason: 'address' });
    await expect(safeFetch('file:///etc/passwd', {}, loopback)).rejects.toMatchObject({ reason: 'scheme' });
    await expect(safeFetch(`http://user:pw@127.0.0.1:${port}/ok`, {}, loopback)).rejects.toMatchObject({
      reason: 'scheme',
    });
  });

  it('fetches what the policy allows, within size, time and redirect limits', async () => {
    const ok = await safeFetch(`${base}/ok`, {}, loopback);
    expect([ok.status, ok.body.toString()]).toEqual([200, 'hello']);
    const followed = await safeFetch(`${base}/hop/1`, {}, loopback);
    expect([followed.status, followed.url]).toEqual([200, `${base}/ok`]);
    await expect(safeFetch(`${base}/hop/5`, {}, loopback)).rejects.toMatchObject({ reason: 'redirects' });
    await expect(safeFetch(`${base}/big`, {}, loopback)).rejects.toMatchObject({ reason: 'size' });
    await expect(safeFetch(`${base}/stream`, {}, loopback)).rejects.toMatchObject({ reason: 'size' });
    await expect(safeFetch(`${base}/slow`, {}, { ...loopback, timeoutMs: 300 })).rejects.toMatchObject({
      reason: 'timeout',
    });
    // A redirect into a private range is checked like the first address, before any connection.
    await expect(safeFetch(`${base}/inside`, {}, loopback)).rejects.toMatchObject({ reason: 'address' });
  });
});
