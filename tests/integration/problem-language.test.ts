import { io } from 'socket.io-client';
import { startWorld, type World } from '../helpers/world.js';

/**
 * A refusal is told in the reader's language (docs/api/problems.md, "Language"): the signed-in person's,
 * else the language the request prefers, else English; its fields' messages too, zod's own among them. The
 * problem's `type` and `title` stay as they are (names a client matches on); `Content-Language` says which.
 */
describe('problems in the reader’s language', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld(['alice', 'bruno'], {}, { bruno: 'fr' });
    const created = await world.as.alice!.call('POST', '/groups', {
      handle: 'cabinet',
      name: 'Cabinet',
      visibility: 'public',
      joinPolicy: 'invite',
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await world?.close();
  });

  it('a person who reads French is told in French, with Content-Language', async () => {
    const res = await world.as.bruno!.call('GET', '/groups/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-language')).toBe('fr');
    expect(res.body).toMatchObject({ type: '/problems/not-found', detail: 'Aucun groupe nowhere.' });
    const post = await world.as.bruno!.call('POST', '/groups/cabinet/threads', {
      title: 'Ordre',
      body: 'Du jour.',
    });
    expect(post.status).toBe(403);
    expect(post.body.detail).toBe('Vous ne pouvez pas publier dans ce groupe.');
  });

  it('the same refusals in English for a person who reads English', async () => {
    const res = await world.as.alice!.call('GET', '/groups/nowhere');
    expect(res.headers.get('content-language')).toBe('en');
    expect(res.body.detail).toBe('No group nowhere.');
  });

  it('a field refused by the schema: zod’s own message in French, and the schema’s own', async () => {
    const thread = { title: 'x'.repeat(300), body: 'Texte.' };
    const long = await world.as.bruno!.call('POST', '/groups/cabinet/threads', thread);
    expect(long.status).toBe(400);
    expect(long.body.errors).toEqual([
      { field: 'body.title', message: expect.stringMatching(/^Trop grand/) },
    ]);
    expect(long.body.detail).toMatch(/^body\.title : Trop grand/);
    const handle = await world.as.bruno!.call('POST', '/groups', { handle: 'X!', name: 'Long' });
    expect(handle.body.errors).toContainEqual({
      field: 'body.handle',
      message: '2 à 63 lettres minuscules, chiffres ou - sont attendus',
    });
    const email = await world.as.bruno!.call('PATCH', '/me/profile', {
      contact: { email: 'not an address' },
    });
    expect(email.status).toBe(400);
    expect(email.body.errors.map((e: { message: string }) => e.message)).toContain(
      'une adresse courriel est attendue',
    );
    const english = await world.as.alice!.call('POST', '/groups/cabinet/threads', thread);
    expect(english.body.errors[0].message).toMatch(/^Too big/);
  });

  it('someone not signed in: the language their browser prefers, else English', async () => {
    const ask = (language?: string) =>
      fetch(`${world.node.url}/api/v1/groups/nowhere`, {
        headers: { accept: 'application/json', ...(language ? { 'accept-language': language } : {}) },
      });
    const french = await ask('fr-CA,fr;q=0.9,en;q=0.8');
    expect(french.headers.get('content-language')).toBe('fr');
    expect(((await french.json()) as { detail: string }).detail).toBe('Aucun groupe nowhere.');
    const german = await ask('de-DE,de;q=0.9');
    expect(((await german.json()) as { detail: string }).detail).toBe('No group nowhere.');
    expect(((await (await ask()).json()) as { detail: string }).detail).toBe('No group nowhere.');
  });

  it('the sign-in’s refusal page too', async () => {
    const res = await fetch(`${world.node.url}/auth/login/nowhere`, {
      headers: { accept: 'text/html', 'accept-language': 'fr-CA,fr;q=0.9' },
      redirect: 'manual',
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-language')).toBe('fr');
    const html = await res.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('Aucun fournisseur d’identité nowhere.');
  });

  it('a socket’s refusals too', async () => {
    const socket = io(world.node.url, {
      transports: ['websocket'],
      extraHeaders: { 'accept-language': 'fr' },
    });
    try {
      const answer = await new Promise<{ ok: boolean; error?: { detail: string } }>((resolve) =>
        socket.emit('subscribe', { room: { kind: 'group', group: 'nowhere' } }, resolve),
      );
      expect(answer).toMatchObject({ ok: false, error: { status: 404, detail: 'Aucun groupe nowhere.' } });
    } finally {
      socket.close();
    }
  });
});
