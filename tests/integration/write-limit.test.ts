import { randomBytes } from 'node:crypto';
import { collections } from '../../server/db/collections.js';
import { filesForm } from '../helpers/files.js';
import { openGroupWithThread } from '../helpers/groups.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * One person, or a stolen session, cannot flood a group: past API_WRITE_RATE_LIMIT changes in a minute the
 * API answers 429 and stores nothing, while that person can still read and everyone else can still write.
 */
describe('changes through the API per person per minute', () => {
  let w: World;
  let threadId: string;
  const LIMIT = 5;

  beforeAll(async () => {
    w = await startWorld(['carol', 'alice', 'bob'], { API_WRITE_RATE_LIMIT: String(LIMIT) });
    ({ threadId } = await openGroupWithThread(w.as.carol!, { handle: 'busy', name: 'Busy' }, 'Talk'));
  });
  afterAll(() => w?.close());

  const replies = async () =>
    ((await w.anonymous.call('GET', `/threads/${threadId}/replies`)).body.items as { body: string }[]).length;

  it('answers 429 problem+json past the limit, stores nothing, and the person can still read', async () => {
    const alice = w.as.alice!;
    expect((await alice.call('POST', '/groups/busy/join')).status).toBe(200);
    for (let i = 1; i < LIMIT; i++)
      expect((await alice.call('POST', `/threads/${threadId}/replies`, { body: `reply ${i}` })).status).toBe(
        201,
      );
    expect(await replies()).toBe(LIMIT - 1);

    const refused = await alice.call('POST', `/threads/${threadId}/replies`, { body: 'one too many' });
    expect(refused.status).toBe(429);
    expect(refused.type).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ type: '/problems/rate-limited', status: 429 });
    expect(refused.body.detail).toContain(`More than ${LIMIT} changes in a minute`);
    // When to try again, in seconds, and the policy (RFC 9110 Retry-After; the IETF RateLimit fields).
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-policy')).toContain(`q=${LIMIT}`);
    expect(await replies()).toBe(LIMIT - 1);
    // Any other change is refused too, a like as much as a reply; reading is not counted.
    expect((await alice.call('PUT', `/threads/${threadId}/like`)).status).toBe(429);
    // An upload is refused before a byte of it is stored (the group's library stays empty).
    const upload = await alice.call(
      'POST',
      '/groups/busy/files',
      filesForm([{ bytes: randomBytes(256 * 1024), name: 'minutes.pdf' }]),
    );
    expect(upload.status).toBe(429);
    expect((await w.anonymous.call('GET', '/groups/busy/files')).body.files).toEqual([]);
    expect(await w.node.database.db.collection(collections.blobFiles).countDocuments()).toBe(0);
    expect((await alice.call('GET', `/threads/${threadId}`)).status).toBe(200);
  });

  it('counts each person apart, and a forged request from another site uses up nothing', async () => {
    const bob = w.as.bob!;
    // Bob's session cookie without the CSRF token, as a page on another site would send it: refused, uncounted.
    for (let i = 0; i < LIMIT * 2; i++)
      expect((await bob.call('POST', '/groups/busy/join', undefined, { csrf: false })).status).toBe(403);
    // Bob shares Alice's address (every test client is on loopback) and still has all of his allowance.
    expect((await bob.call('POST', '/groups/busy/join')).status).toBe(200);
    for (let i = 1; i < LIMIT; i++)
      expect((await bob.call('POST', `/threads/${threadId}/replies`, { body: `bob ${i}` })).status).toBe(201);
    expect((await bob.call('POST', `/threads/${threadId}/replies`, { body: 'bob again' })).status).toBe(429);
  });
});
