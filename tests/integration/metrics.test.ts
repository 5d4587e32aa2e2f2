import pino from 'pino';
import request from 'supertest';
import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { Metrics } from '../../server/ops/metrics.js';
import { createTestNode, startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { FakeServer, postSigned, waitUntil } from '../helpers/fediverse.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { connectSocket } from '../helpers/sockets.js';

const cast: DemoPerson[] = ['ana', 'ben'].map((sub) => ({
  sub,
  name: sub,
  email: `${sub}@dept.example`,
  locale: 'en',
  organization: '',
}));

/** Prometheus text format, as a scraper reads it: `name{labels} value` lines. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

describe('Prometheus metrics', () => {
  let idp: TestIdp;
  let node: RunningNode;
  let peer: FakeServer;
  const as: Record<string, ApiClient> = {};
  const TOKEN = 'metrics-token-for-the-test-only-0123456789';

  const scrape = async () => {
    const res = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parse(await res.text());
  };
  const value = (
    samples: ReturnType<typeof parse>,
    name: string,
    labels: Record<string, string> = {},
  ): number =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);

  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: cast });
    node = await startTestNode({
      port,
      issuers: [idp.issuer],
      monitorCommands: true,
      env: {
        METRICS_TOKEN: TOKEN,
        FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
        FEDERATION_RETRY_BASE_MS: '60000',
      },
    });
    for (const who of ['ana', 'ben']) {
      const browser = new Browser();
      await signIn(browser, node.url, 'dept', who);
      as[who] = new ApiClient(browser, node.url);
    }
    peer = await new FakeServer().start();
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
    await peer.close();
  });

  it('counts real traffic: HTTP by route template, sockets and rooms, jobs, inbox, deliveries, database, process', async () => {
    // People at work: a group, a thread, a reply, a like, a live page.
    expect(
      (
        await as.ana!.call('POST', '/groups', {
          handle: 'ops-lab',
          name: 'Ops lab',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    expect((await as.ben!.call('POST', '/groups/ops-lab/join')).status).toBe(200);
    const live = await connectSocket(node.url, as.ben);
    expect((await live.subscribe({ kind: 'group', group: 'ops-lab' })).ok).toBe(true);
    const thread = await as.ana!.call('POST', '/groups/ops-lab/threads', { title: 'Runbook', body: 'Draft' });
    expect(thread.status).toBe(201);
    expect(
      (await as.ben!.call('POST', `/threads/${thread.body.id}/replies`, { body: 'Looks good' })).status,
    ).toBe(201);
    expect((await as.ben!.call('PUT', `/threads/${thread.body.id}/like`)).status).toBe(200);
    expect((await as.ben!.call('GET', '/nothing/here')).status).toBe(404);
    expect((await as.ben!.call('DELETE', '/organizations')).status).toBe(405);
    // A remote server posts to the inbox: once unsigned (refused), once a valid Follow (accepted).
    const remote = peer.actor('rita');
    const inbox = `${node.url}/ap/inbox`;
    const follow = (n: number) => ({
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${remote.id}/follows/${n}`,
      type: 'Follow',
      actor: remote.id,
      object: `${node.url}/ap/a/g.ops-lab`,
    });
    expect((await postSigned(inbox, follow(1), remote, { unsigned: true })).status).toBe(401);
    expect((await postSigned(inbox, follow(2), remote)).status).toBeLessThan(300);
    expect((await postSigned(inbox, follow(2), remote)).status).toBeLessThan(300);
    // Deliveries: one inbox answers, one keeps failing until its circuit opens.
    const fed = node.node.federation!;
    const down = await new FakeServer().start();
    down.status = () => 503;
    const actor = fed.directory.instanceIri;
    // One at a time, so each failure is counted before the next is sent.
    for (let i = 0; i < 6; i++) {
      await fed.deliveries.enqueue(
        actor,
        JSON.stringify({ id: `${node.url}/ap/s/m${i}`, type: 'Announce', actor, object: actor }),
        [`${peer.url}/inbox`, `${down.url}/inbox`],
      );
      await fed.worker.drain();
    }
    await down.close();
    await node.node.jobs.drain();
    await waitUntil(() => live.of('reply.created').length === 1, 5000, 'the live reply');
    // An anonymous reader opens the group's page twice: the second answer is a kept page, answered before the
    // pipeline, and still counted.
    for (let i = 0; i < 2; i++)
      expect((await fetch(`${node.url}/api/v1/groups/ops-lab/threads`)).status).toBe(200);

    const samples = await scrape();
    const http = 'ensemble_http_request_duration_seconds_count';
    expect(
      value(samples, http, { method: 'POST', route: '/api/v1/groups/:group/threads', status: '201' }),
    ).toBe(1);
    expect(
      value(samples, http, { method: 'POST', route: '/api/v1/threads/:id/replies', status: '201' }),
    ).toBe(1);
    expect(value(samples, http, { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(value(samples, http, { method: 'DELETE', route: '/api/v1/organizations', status: '405' })).toBe(1);
    expect(value(samples, http, { method: 'POST', route: '/ap/inbox', status: '401' })).toBe(1);
    expect(
      value(samples, http, { method: 'GET', route: '/api/v1/groups/:group/threads', status: '200' }),
    ).toBe(1);
    expect(value(samples, http, { method: 'GET', route: 'kept page', status: '200' })).toBe(1);
    // Never a raw path as a label.
    expect(samples.filter((s) => s.name === http && /[0-9a-f]{24}/.test(s.labels.route ?? ''))).toEqual([]);
    expect(value(samples, 'ensemble_http_request_duration_seconds_bucket', { le: '+Inf' })).toBe(
      value(samples, http),
    );

    expect(value(samples, 'ensemble_socketio_connections')).toBe(1);
    expect(value(samples, 'ensemble_socketio_rooms', { kind: 'group' })).toBe(1);
    live.close();
    await waitUntil(
      async () => value(await scrape(), 'ensemble_socketio_connections') === 0,
      5000,
      'the socket to be counted out',
    );
    expect(value(samples, 'ensemble_realtime_events_total', { event: 'reply.created' })).toBe(1);

    expect(
      value(samples, 'ensemble_federation_inbox_total', { outcome: 'refused', reason: 'unauthenticated' }),
    ).toBe(1);
    expect(value(samples, 'ensemble_federation_inbox_total', { outcome: 'accepted' })).toBe(1);
    expect(value(samples, 'ensemble_federation_inbox_total', { outcome: 'duplicate' })).toBe(1);

    expect(
      value(samples, 'ensemble_federation_delivery_attempts_total', { outcome: 'delivered' }),
    ).toBeGreaterThanOrEqual(6);
    expect(value(samples, 'ensemble_federation_delivery_attempts_total', { outcome: 'retry' })).toBe(5);
    expect(value(samples, 'ensemble_federation_delivery_attempts_total', { outcome: 'deferred' })).toBe(1);
    expect(value(samples, 'ensemble_federation_circuit_open', { host: down.host, state: 'open' })).toBe(1);
    expect(value(samples, 'ensemble_federation_deliveries_queued')).toBeGreaterThanOrEqual(5);

    // Notification jobs of the thread and the reply ran here.
    expect(
      value(samples, 'ensemble_jobs_total', { queue: 'notify', outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(2);
    expect(value(samples, 'ensemble_job_duration_seconds_count', { queue: 'notify' })).toBeGreaterThanOrEqual(
      2,
    );
    expect(samples.some((s) => s.name === 'ensemble_jobs_pending' && s.labels.queue === 'thumbnail')).toBe(
      true,
    );

    expect(
      value(samples, 'ensemble_db_command_duration_seconds_count', { command: 'insert', outcome: 'ok' }),
    ).toBeGreaterThan(3);
    expect(value(samples, 'ensemble_db_command_duration_seconds_count', { command: 'find' })).toBeGreaterThan(
      3,
    );

    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('serves the token holder only: no token or a wrong one is 401 with a Bearer challenge', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`]) {
      const res = await fetch(`${node.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.text()).not.toContain('ensemble_');
    }
  });

  describe('who may scrape, by configuration', () => {
    const logger = pino({ level: 'silent' });
    const production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://ensemble.example',
      SESSION_SECRET: 'x'.repeat(40),
      OIDC_ISSUERS: JSON.stringify([
        {
          id: 'd',
          name: { en: 'D', fr: 'D' },
          issuer: 'https://idp.example',
          clientId: 'c',
          clientSecret: 's',
        },
      ]),
    };
    const get = async (env: Record<string, string>, withMetrics = true) => {
      const node = await createTestNode({ env, deps: withMetrics ? { metrics: new Metrics(logger) } : {} });
      try {
        const res = await request(node.app).get('/metrics');
        return { status: res.status, type: String(res.headers['content-type']), body: res.text };
      } finally {
        await node.close();
      }
    };

    it('outside production with nothing configured: loopback only', async () => {
      const res = await get({});
      expect(res.status).toBe(200);
      expect(res.body).toContain('ensemble_http_request_duration_seconds');
    });

    it('in production with nothing configured: nobody', async () => {
      const res = await get(production);
      expect(res.status).toBe(403);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toContain('METRICS_TOKEN or METRICS_ALLOWED_NETWORKS');
    });

    it('with METRICS_ALLOWED_NETWORKS: that network only, in production too', async () => {
      expect((await get({ ...production, METRICS_ALLOWED_NETWORKS: '127.0.0.0/8' })).status).toBe(200);
      expect((await get({ METRICS_ALLOWED_NETWORKS: '10.0.0.0/8' })).status).toBe(403);
    });

    it('METRICS_ENABLED=false: no endpoint', async () => {
      expect((await get({ METRICS_ENABLED: 'false' }, false)).status).toBe(404);
    });
  });
});
