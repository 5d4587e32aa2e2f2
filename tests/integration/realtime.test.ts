import { jest } from '@jest/globals';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { connectSocket, until } from '../helpers/sockets.js';
import { startWorld, type World } from '../helpers/world.js';

/** Real socket.io-client connections against the real server, session cookies and all. */
describe('real-time updates over Socket.IO', () => {
  let w: World;
  const sockets: { close(): void }[] = [];
  const connect = async (who?: string) => {
    const s = await connectSocket(w.node.url, who ? w.as[who] : undefined);
    sockets.push(s);
    return s;
  };
  const pause = (ms = 250) => new Promise((r) => setTimeout(r, ms));
  /** A second browser signed in as mia: another session of the same person. */
  const startWorldSession = async () => {
    const browser = new Browser();
    await signIn(browser, w.node.url, 'dept', 'mia');
    return new ApiClient(browser, w.node.url);
  };

  beforeAll(async () => {
    w = await startWorld(['owen', 'mia', 'otto']);
    for (const [handle, visibility, joinPolicy] of [
      ['open-rt', 'public', 'open'],
      ['closed-rt', 'members', 'invite'],
    ] as const) {
      expect(
        (await w.as.owen!.call('POST', '/groups', { handle, name: handle, visibility, joinPolicy })).status,
      ).toBe(201);
    }
    await w.as.owen!.call('POST', '/groups/closed-rt/invitations', { person: 'mia' });
    expect((await w.as.mia!.call('POST', '/groups/closed-rt/invitation/accept')).status).toBe(204);
    expect((await w.as.mia!.call('POST', '/groups/open-rt/join')).status).toBe(200);
  });
  afterEach(() => sockets.splice(0).forEach((s) => s.close()));
  afterAll(() => w.close());

  it('joins rooms only where the reader may read, and answers bad payloads with an error ack', async () => {
    const anonymous = await connect();
    expect(await anonymous.subscribe({ kind: 'group', group: 'open-rt' })).toMatchObject({ ok: true });
    const hidden = await anonymous.subscribe({ kind: 'group', group: 'closed-rt' });
    expect(hidden).toMatchObject({ ok: false, error: { status: 404 } });
    const otto = await connect('otto');
    expect((await otto.subscribe({ kind: 'group', group: 'closed-rt' })).error?.status).toBe(404);
    const mia = await connect('mia');
    expect(await mia.subscribe({ kind: 'group', group: 'closed-rt' })).toMatchObject({ ok: true });

    for (const bad of [
      undefined,
      'group',
      { room: { kind: 'planet', id: 'x' } },
      { room: { kind: 'thread', id: '../x' } },
    ]) {
      const answer = await anonymous.ack('subscribe', bad);
      expect(answer).toMatchObject({
        ok: false,
        error: { status: 400, type: '/problems/validation-failed' },
      });
    }
    anonymous.socket.emit('subscribe', { room: { kind: 'group', group: 'open-rt' } }); // no ack: ignored quietly
    expect(anonymous.socket.connected).toBe(true);
    expect(await anonymous.subscribe({ kind: 'group', group: 'open-rt' })).toMatchObject({ ok: true });
  });

  it('answers a socket that floods subscribe requests with 429 acks, and stays connected', async () => {
    const flood = await connect();
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => flood.subscribe({ kind: 'group', group: 'open-rt' })),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(30);
    expect(answers.filter((a) => !a.ok).every((a) => a.error?.status === 429)).toBe(true);
    expect(flood.socket.connected).toBe(true);
  });

  it('delivers events to permitted rooms only, in the order they happened', async () => {
    const [mia, otto, anonymous] = [await connect('mia'), await connect('otto'), await connect()];
    await mia.subscribe({ kind: 'group', group: 'closed-rt' });
    await otto.subscribe({ kind: 'group', group: 'open-rt' });
    await anonymous.subscribe({ kind: 'group', group: 'open-rt' });
    const secret = await w.as.owen!.call('POST', '/groups/closed-rt/threads', {
      title: 'Budget',
      body: 'confidential',
    });
    const open = await w.as.owen!.call('POST', '/groups/open-rt/threads', {
      title: 'Picnic',
      body: 'all welcome',
    });
    await mia.subscribe({ kind: 'thread', id: secret.body.id });
    for (let i = 0; i < 5; i++)
      await w.as.owen!.call('POST', `/threads/${secret.body.id}/replies`, { body: `reply ${i}` });
    // In the group's room and the thread's, each reply still arrives once, in order.
    await until(() => mia.of('reply.created').length >= 5);
    await pause();
    expect(mia.of('reply.created').map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(mia.of('thread.created')).toEqual([
      expect.objectContaining({ v: 1, threadId: secret.body.id, position: expect.any(Number) }),
    ]);
    await until(() => otto.of('thread.created').length > 0 && anonymous.of('thread.created').length > 0);
    expect(otto.of('thread.created').map((p) => p.threadId)).toEqual([open.body.id]);
    expect(JSON.stringify(otto.received)).not.toContain(secret.body.id);
    expect(JSON.stringify(anonymous.received)).not.toContain(secret.body.id);
    const otto2 = await connect('otto');
    expect((await otto2.subscribe({ kind: 'thread', id: secret.body.id })).error?.status).toBe(404);
  });

  it('keeps a page that is left and opened again in its room (room changes apply in the order sent)', async () => {
    const mia = await connect('mia');
    const room = { kind: 'group', group: 'open-rt' } as const;
    expect(await mia.subscribe(room)).toMatchObject({ ok: true });
    // The page is left and drawn again: `unsubscribe` then `subscribe`, back to back. The first is read
    // slowly (as under load), so, run side by side, its leave would land after the second's join.
    const groups = w.node.node.services.groups;
    const load = groups.load.bind(groups);
    let slowed = false;
    const spy = jest.spyOn(groups, 'load').mockImplementation(async (...args) => {
      if (!slowed) {
        slowed = true;
        await pause(300);
      }
      return load(...args);
    });
    try {
      const [left, back] = await Promise.all([mia.unsubscribe(room), mia.subscribe(room)]);
      expect([left.ok, back.ok]).toEqual([true, true]);
    } finally {
      spy.mockRestore();
    }
    await w.as.owen!.call('POST', '/groups/open-rt/threads', { title: 'Still here?', body: 'x' });
    await until(() => mia.of('thread.created').length > 0);
    expect(mia.of('thread.created')).toEqual([expect.objectContaining({ v: 1 })]);
  });

  it('takes a removed member out of the rooms at once', async () => {
    const thread = await w.as.owen!.call('POST', '/groups/closed-rt/threads', { title: 'Plans', body: 'x' });
    const mia = await connect('mia');
    await mia.subscribe({ kind: 'group', group: 'closed-rt' });
    await mia.subscribe({ kind: 'thread', id: thread.body.id });
    expect((await w.as.owen!.call('DELETE', '/groups/closed-rt/members/mia')).status).toBe(204);
    await pause();
    await w.as.owen!.call('POST', `/threads/${thread.body.id}/replies`, { body: 'after removal' });
    await w.as.owen!.call('POST', '/groups/closed-rt/threads', { title: 'After', body: 'x' });
    await pause(400);
    expect(mia.of('reply.created')).toEqual([]);
    expect(mia.of('thread.created')).toEqual([]);
    expect(mia.of('member.left')).toEqual([
      expect.objectContaining({ userId: expect.any(String), reason: 'removed' }),
    ]);
    expect((await mia.subscribe({ kind: 'group', group: 'closed-rt' })).error?.status).toBe(404);
  });

  it('shows edits, likes, deletions, new members and new files as they happen', async () => {
    const watcher = await connect('otto');
    await watcher.subscribe({ kind: 'group', group: 'open-rt' });
    const thread = await w.as.mia!.call('POST', '/groups/open-rt/threads', {
      title: 'Live edits',
      body: 'v1',
    });
    await w.as.mia!.call('PATCH', `/threads/${thread.body.id}`, { body: 'v2' });
    await w.as.owen!.call('PUT', `/threads/${thread.body.id}/like`);
    await w.as.owen!.call('DELETE', `/threads/${thread.body.id}/like`);
    await w.as.otto!.call('POST', '/groups/open-rt/join');
    const form = new FormData();
    form.append('files', new Blob([new Uint8Array(Buffer.from('agenda'))]), 'agenda.txt');
    const file = await w.as.mia!.call('POST', '/groups/open-rt/files', form);
    await w.as.mia!.call('DELETE', `/threads/${thread.body.id}`);
    const expected = [
      'thread.created',
      'post.edited',
      'post.liked',
      'post.unliked',
      'member.joined',
      'file.uploaded',
      'post.deleted',
    ];
    await until(() => watcher.received.length >= expected.length);
    expect(watcher.received.map((r) => r.event)).toEqual(expected);
    expect(watcher.of('file.uploaded')).toEqual([expect.objectContaining({ v: 1, fileId: file.body[0].id })]);
    expect(watcher.of('post.deleted')).toEqual([
      expect.objectContaining({ kind: 'threads', id: thread.body.id }),
    ]);
  });

  it('takes readers out of a group the moment it is made members-only', async () => {
    expect(
      (
        await w.as.owen!.call('POST', '/groups', {
          handle: 'closing',
          name: 'Closing',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    const anonymous = await connect();
    expect(await anonymous.subscribe({ kind: 'group', group: 'closing' })).toMatchObject({ ok: true });
    expect((await w.as.owen!.call('PATCH', '/groups/closing', { visibility: 'members' })).status).toBe(200);
    await pause();
    await w.as.owen!.call('POST', '/groups/closing/threads', { title: 'Now private', body: 'x' });
    await pause(400);
    expect(anonymous.of('thread.created')).toEqual([]);
  });

  it("disconnects a session's sockets when it signs out, and only that session's", async () => {
    const second = await startWorldSession(); // mia again, in another browser
    const leaving = await connectSocket(w.node.url, second);
    sockets.push(leaving);
    const staying = await connect('mia');
    expect(await leaving.subscribe({ kind: 'group', group: 'open-rt' })).toMatchObject({ ok: true });
    const out = await second.browser.request(`${w.node.url}/auth/logout`, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrf-token': await second.token(),
      },
      body: '',
    });
    expect(out.status).toBe(200);
    await until(() => !leaving.socket.connected);
    expect(leaving.socket.connected).toBe(false);
    await pause(100);
    expect(staying.socket.connected).toBe(true);
  });

  it('catches up after a network drop without losing an event', async () => {
    const thread = await w.as.mia!.call('POST', '/groups/open-rt/threads', { title: 'Drop', body: 'x' });
    const reader = await connect('otto');
    await reader.subscribe({ kind: 'thread', id: thread.body.id });
    await w.as.mia!.call('POST', `/threads/${thread.body.id}/replies`, { body: 'before' });
    await until(() => reader.of('reply.created').length === 1);
    // The transport drops (not a clean disconnect): the client reconnects and the server replays.
    reader.socket.io.engine.close();
    for (const body of ['while away 1', 'while away 2'])
      await w.as.mia!.call('POST', `/threads/${thread.body.id}/replies`, { body });
    await until(() => reader.socket.connected && reader.of('reply.created').length === 3, 5000);
    expect(reader.socket.recovered).toBe(true);
    expect(reader.of('reply.created').map((p) => p.seq)).toEqual([1, 2, 3]);
    // Past the recovery window, a client resumes from the last position it saw, through the REST API.
    const missed = await w.anonymous.call('GET', `/threads/${thread.body.id}/replies?cursor=1`);
    expect(missed.body.items.map((r: { id: string }) => r.id)).toEqual(
      reader
        .of('reply.created')
        .slice(1)
        .map((p) => p.replyId),
    );
  });
});
