import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../server/core/net.js';
import { projectRoot } from '../../server/core/paths.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { waitUntil } from '../helpers/fediverse.js';
import { connectSocket } from '../helpers/sockets.js';

/** A node as `npm run nodes` prints it. */
interface Printed {
  letter: string;
  url: string;
  department: string;
  people: { sub: string; name: string; administrator: boolean }[];
}

/** The summary `npm run nodes` prints once its nodes are ready (scripts/nodes.ts). */
function parseSummary(out: string): Printed[] {
  const nodes: Printed[] = [];
  const lines = out.split('\n');
  for (const [i, line] of lines.entries()) {
    const node = /^ {2}([A-Z]) {2}(http:\/\/\S+) {2}(.+)$/.exec(line);
    const signIns = /^ +sign in as: (.+)$/.exec(lines[i + 1] ?? '');
    if (!node || !signIns) continue;
    nodes.push({
      letter: node[1]!,
      url: node[2]!,
      department: node[3]!,
      people: [...signIns[1]!.matchAll(/([a-z0-9-]+) \(([^,)]+)(, administrator)?\)/g)].map((m) => ({
        sub: m[1]!,
        name: m[2]!,
        administrator: Boolean(m[3]),
      })),
    });
  }
  return nodes;
}

/**
 * README.md, "Try two departments on one machine", step by step, against what `npm run nodes` itself
 * prints: the command a person runs from a fresh clone (embedded defaults: each node its own FerretDB and
 * its own development identity provider), real HTTP between the nodes, real sign-in through each node's
 * own provider, real sockets. If the command, its output or the walkthrough drift apart, this fails.
 */
describe('two departments on one machine (`npm run nodes`, the README walkthrough)', () => {
  let command: ChildProcess;
  let out = '';
  let data: string;
  let a: Printed;
  let b: Printed;
  const exited = () => command.exitCode !== null || command.signalCode !== null;

  beforeAll(async () => {
    data = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-two-departments-'));
    // Its own process group, so that the test can press Ctrl-C (SIGINT to the group) as a person does.
    // --port only to keep two runs of this test on one machine apart; a person leaves it out.
    command = spawn('npm', ['run', 'nodes', '--', '--data', data, '--port', String(await freePort())], {
      cwd: projectRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('ENSEMBLE_') && !k.startsWith('JEST_')),
      ),
    });
    let err = '';
    command.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    command.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)));
    const deadline = Date.now() + 150_000;
    while (!out.includes('Walkthrough:') && !exited() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    if (!out.includes('Walkthrough:')) throw new Error(`npm run nodes did not start:\n${out}\n${err}`);
    [a, b] = parseSummary(out) as [Printed, Printed];
  }, 180_000);

  afterAll(async () => {
    if (command && !exited()) {
      const gone = new Promise((r) => command.once('exit', r));
      process.kill(-command.pid!, 'SIGKILL');
      await gone;
    }
    if (data) fs.rmSync(data, { recursive: true, force: true });
  }, 30_000);

  it('prints two departments, each at its own host, with the demo people who sign in there', () => {
    expect(parseSummary(out)).toHaveLength(2);
    expect(new URL(a.url).hostname).not.toBe(new URL(b.url).hostname);
    expect(a).toMatchObject({ letter: 'A', department: 'Digital Services Agency' });
    expect(b).toMatchObject({ letter: 'B', department: 'Department of Natural Resources' });
    expect(a.people.map((p) => p.sub)).toEqual(['alice', 'chloe']);
    expect(b.people.map((p) => p.sub)).toEqual(['bruno', 'dev']);
    expect(a.people[0]!.administrator && b.people[0]!.administrator).toBe(true);
  });

  it('sign in on A, create a group; sign in on B, find it, join it, post; both see it live', async () => {
    const hostA = new URL(a.url).host;
    // 1. On A, sign in as A's first demo person through A's own identity provider.
    const onA = new ApiClient(new Browser(), a.url);
    await signIn(onA.browser, a.url, 'dev', a.people[0]!.sub);
    expect((await onA.call('GET', '/me')).body).toMatchObject({
      profile: { displayName: a.people[0]!.name },
      isAdmin: true,
    });
    // 2. Create a public group that anyone may join.
    const created = await onA.call('POST', '/groups', {
      handle: 'open-data',
      name: 'Open data',
      visibility: 'public',
      joinPolicy: 'open',
    });
    expect(created.status).toBe(201);
    // 3. On B, sign in as B's first demo person through B's own provider (A's people are not there).
    const onB = new ApiClient(new Browser(), b.url);
    await signIn(onB.browser, b.url, 'dev', b.people[0]!.sub);
    expect((await onB.call('GET', '/me')).body).toMatchObject({
      profile: { displayName: b.people[0]!.name },
      isAdmin: true,
    });
    const wrongNode = new Browser();
    await expect(signIn(wrongNode, b.url, 'dev', a.people[0]!.sub)).resolves.toMatchObject({
      res: { status: 400 },
    });
    // 4. Find the group by its address, and join it.
    const handle = `open-data@${hostA}`;
    const found = await onB.call('GET', `/lookup?q=${encodeURIComponent(`@${handle}`)}`);
    expect(found.status).toBe(200);
    expect(found.body.group).toMatchObject({ handle, name: 'Open data', node: { host: hostA } });
    expect((await onB.call('POST', `/groups/${encodeURIComponent(handle)}/join`)).status).toBe(200);
    await waitUntil(
      async () =>
        ((await onB.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).some(
          (g) => g.handle === handle,
        ),
      20_000,
      'the join on B',
    );
    // B's web client serves the group's page at the address the walkthrough opens.
    const page = await onB.browser.request(`${b.url}/groups/${encodeURIComponent(handle)}`, {
      headers: { accept: 'text/html' },
    });
    expect([page.status, page.headers.get('content-type')]).toEqual([
      200,
      expect.stringContaining('text/html'),
    ]);
    // On A, the member from B, with their department.
    const members = (await onA.call('GET', '/groups/open-data/members')).body.items;
    expect(members).toContainEqual(
      expect.objectContaining({
        handle: `${b.people[0]!.sub}@${new URL(b.url).host}`,
        organization: b.department,
      }),
    );
    // 5. Both have the group open (their sockets follow it); B posts a discussion.
    const liveA = await connectSocket(a.url, onA);
    const liveB = await connectSocket(b.url, onB);
    try {
      expect((await liveA.subscribe({ kind: 'group', group: 'open-data' })).ok).toBe(true);
      expect((await liveB.subscribe({ kind: 'group', group: handle })).ok).toBe(true);
      const posted = await onB.call('POST', `/groups/${encodeURIComponent(handle)}/threads`, {
        title: 'Shared datasets',
        body: 'Which of **your** datasets could we publish together?',
      });
      expect(posted.status).toBe(201);
      // 6. It appears live on both: on B at once, on A when B's node has delivered it.
      await waitUntil(() => liveB.of('thread.created').length > 0, 20_000, 'thread.created on B');
      await waitUntil(() => liveA.of('thread.created').length > 0, 20_000, 'thread.created on A');
      const threadOnA = liveA.of('thread.created')[0]!.threadId as string;
      const seenOnA = (await onA.call('GET', `/threads/${threadOnA}`)).body;
      expect(seenOnA).toMatchObject({
        title: 'Shared datasets',
        author: { handle: `bruno@${new URL(b.url).host}` },
      });
      // 7. A replies; the reply reaches B's open page live.
      expect(
        (await onA.call('POST', `/threads/${threadOnA}/replies`, { body: 'Our permits register, for one.' }))
          .status,
      ).toBe(201);
      await waitUntil(() => liveB.of('reply.created').length > 0, 20_000, 'reply.created on B');
      const threadOnB = liveB.of('reply.created')[0]!.threadId as string;
      const replies = (await onB.call('GET', `/threads/${threadOnB}/replies`)).body.items as {
        body: { html: string };
      }[];
      expect(replies.map((r) => r.body.html).join()).toContain('Our permits register, for one.');
    } finally {
      liveA.close();
      liveB.close();
    }
  });

  it('Ctrl-C stops both nodes', async () => {
    const gone = new Promise((r) => command.once('exit', r));
    process.kill(-command.pid!, 'SIGINT');
    await gone;
    for (const node of [a, b]) await expect(fetch(`${node.url}/healthz`)).rejects.toThrow();
  }, 40_000);
});
