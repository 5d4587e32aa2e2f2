import type { ApiClient } from '../helpers/browser.js';
import { createPublicGroup, waitUntil } from '../helpers/fediverse.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';

/**
 * Three departments, each its own Ensemble node: a separate process with its own database and identity
 * provider, on its own loopback address (server/ops/launcher.ts). Everything between them is real HTTP
 * with real signatures: WebFinger, actor fetches, signed deliveries through each node's queue.
 */
describe('groups across nodes (three departments, three nodes)', () => {
  let d: Departments;
  let hostA: string;
  let hostB: string;
  let alice: ApiClient;
  let bruno: ApiClient;
  let dev: ApiClient;
  let emma: ApiClient;

  const groupsOf = async (client: ApiClient) =>
    ((await client.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).map(
      (g) => g.handle,
    );
  const path = (handle: string) => `/groups/${encodeURIComponent(handle)}`;
  const lookup = (client: ApiClient, q: string) => client.call('GET', `/lookup?q=${encodeURIComponent(q)}`);
  /** A person finds a group of another node and asks to join it; resolves once their node records it. */
  const joinRemote = async (client: ApiClient, handle: string, how: 'join' | 'requests' = 'join') => {
    expect((await lookup(client, `@${handle}`)).status).toBe(200);
    return client.call('POST', `${path(handle)}/${how}`);
  };

  beforeAll(async () => {
    d = await startDepartments([
      { name: 'a', department: 'digital-services' },
      { name: 'b', department: 'natural-resources' },
      { name: 'c', department: 'environment' },
    ]);
    hostA = new URL(d.node('a').url).host;
    hostB = new URL(d.node('b').url).host;
    [alice, bruno, dev, emma] = await Promise.all([
      d.as('a', 'alice'),
      d.as('b', 'bruno'),
      d.as('b', 'dev'),
      d.as('c', 'emma'),
    ]);
  }, 180_000);
  afterAll(() => d?.close(), 60_000);

  it('each department is its own host with its own people', () => {
    expect(new Set(d.nodes.map((n) => new URL(n.url).hostname))).toEqual(
      new Set(['127.0.0.2', '127.0.0.3', '127.0.0.4']),
    );
  });

  it('a person on B finds @group@A, sees its public profile, and joins the open group at once', async () => {
    await createPublicGroup(alice, 'policy-lab', { name: 'Policy lab' });
    const handle = `policy-lab@${hostA}`;
    const found = await lookup(bruno, `@${handle}`);
    expect(found.status).toBe(200);
    expect(found.body.group).toMatchObject({
      handle,
      name: 'Policy lab',
      memberCount: 1,
      visibility: 'public',
      joinPolicy: 'open',
      node: { host: hostA },
    });
    expect(found.body.group.moderators.map((m: { handle: string }) => m.handle)).toEqual([`alice@${hostA}`]);
    // The group's URL finds the same group.
    const byUrl = await lookup(bruno, `${d.node('a').url}/groups/policy-lab`);
    expect(byUrl.body.group.id).toBe(found.body.group.id);

    const join = await bruno.call('POST', `${path(handle)}/join`);
    expect(join.status).toBe(200);
    expect(join.body).toEqual({ welcomeMessage: null, pending: true });
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the join on B');
    // On A: a member from node B, with his name and organization.
    const members = await alice.call('GET', '/groups/policy-lab/members');
    expect(members.body.items).toContainEqual(
      expect.objectContaining({
        handle: `bruno@${hostB}`,
        displayName: 'Bruno Côté',
        node: hostB,
        organization: 'Department of Natural Resources',
        role: 'member',
      }),
    );
    expect((await alice.call('GET', '/groups/policy-lab')).body.memberCount).toBe(2);
    // C joins too (the discussion below has three nodes).
    await joinRemote(emma, handle);
    await waitUntil(async () => (await groupsOf(emma)).includes(handle), 15_000, 'the join on C');
  });

  it('a request to join from B waits in A’s request queue beside local ones; approval and denial reach B', async () => {
    await createPublicGroup(alice, 'intake', { joinPolicy: 'request' });
    const handle = `intake@${hostA}`;
    expect((await joinRemote(bruno, handle, 'requests')).status).toBe(202);
    expect((await joinRemote(dev, handle, 'requests')).status).toBe(202);
    const queue = async () =>
      ((await alice.call('GET', '/groups/intake/members?state=requested')).body.items ?? []) as {
        handle: string;
        node: string | null;
        organization: string | null;
        displayName: string;
      }[];
    await waitUntil(async () => (await queue()).length === 2, 15_000, 'the requests on A');
    expect(await queue()).toContainEqual(
      expect.objectContaining({
        handle: `bruno@${hostB}`,
        displayName: 'Bruno Côté',
        node: hostB,
        organization: 'Department of Natural Resources',
      }),
    );
    // Not a member on B until A answers.
    expect(await groupsOf(bruno)).not.toContain(handle);
    expect(
      (await alice.call('POST', `/groups/intake/requests/${encodeURIComponent(`bruno@${hostB}`)}/approve`))
        .status,
    ).toBe(204);
    expect(
      (await alice.call('POST', `/groups/intake/requests/${encodeURIComponent(`dev@${hostB}`)}/deny`)).status,
    ).toBe(204);
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the approval on B');
    await waitUntil(
      async () => (await dev.call('GET', path(handle))).body.viewer?.state === null,
      15_000,
      'the denial on B',
    );
    expect(await groupsOf(dev)).not.toContain(handle);
  });

  it('an A admin invites @person@B to an invitation-only group; accepted from B, they are a member', async () => {
    await createPublicGroup(alice, 'cabinet-prep', { joinPolicy: 'invite' });
    const handle = `cabinet-prep@${hostA}`;
    expect(
      (await alice.call('POST', '/groups/cabinet-prep/invitations', { person: `bruno@${hostB}` })).status,
    ).toBe(204);
    // On B: the invitation waits for bruno, with a notification.
    await waitUntil(
      async () => (await bruno.call('GET', path(handle))).body.viewer?.state === 'invited',
      15_000,
      'the invitation on B',
    );
    await waitUntil(
      async () =>
        ((await bruno.call('GET', '/notifications')).body.items as { kind: string; group: string }[]).some(
          (n) => n.kind === 'invitation' && n.group === handle,
        ),
      15_000,
      'the invitation notification on B',
    );
    expect((await bruno.call('POST', `${path(handle)}/invitation/accept`)).status).toBe(204);
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the membership on B');
    const members = await alice.call('GET', '/groups/cabinet-prep/members');
    expect(members.body.items.map((m: { handle: string }) => m.handle)).toContain(`bruno@${hostB}`);
    // Someone not invited is refused by A: their request is rejected and never becomes a membership.
    expect((await joinRemote(dev, handle, 'requests')).status).toBe(202);
    await waitUntil(
      async () => (await dev.call('GET', path(handle))).body.viewer?.state === null,
      15_000,
      'the refusal on B',
    );
  });

  it('leaving from B ends the membership on A (Undo of the Follow, matched by actor and object)', async () => {
    const handle = `policy-lab@${hostA}`;
    await joinRemote(dev, handle);
    await waitUntil(async () => (await groupsOf(dev)).includes(handle), 15_000, 'the join on B');
    expect((await alice.call('GET', '/groups/policy-lab')).body.memberCount).toBe(4);
    expect((await dev.call('POST', `${path(handle)}/leave`)).status).toBe(204);
    expect(await groupsOf(dev)).not.toContain(handle);
    await waitUntil(
      async () => (await alice.call('GET', '/groups/policy-lab')).body.memberCount === 3,
      15_000,
      'the departure on A',
    );
    const members = await alice.call('GET', '/groups/policy-lab/members');
    expect(members.body.items.map((m: { handle: string }) => m.handle)).not.toContain(`dev@${hostB}`);
  });
});
