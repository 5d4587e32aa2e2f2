import type { ObjectId } from 'mongodb';
import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { collections } from '../../server/db/collections.js';
import { membershipId } from '../../server/groups/group.repository.js';
import {
  groupVisibilities,
  joinPolicies,
  type MembershipState,
  type Role,
} from '../../server/groups/group.policy.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

/**
 * The authorisation matrix through the real REST API: every standing × visibility × joining policy,
 * probing each operation with a real request. A cell that answers when it should not (a leak) or
 * refuses when it should answer fails. Hidden things must answer 404, exactly like missing ones.
 */
const standings: Record<
  string,
  { role: Role; state: MembershipState } | null | 'anonymous' | 'instanceAdmin'
> = {
  anonymous: 'anonymous',
  outsider: null,
  requested: { role: 'member', state: 'requested' },
  invited: { role: 'member', state: 'invited' },
  banned: { role: 'member', state: 'banned' },
  member: { role: 'member', state: 'active' },
  moderator: { role: 'moderator', state: 'active' },
  admin: { role: 'admin', state: 'active' },
  instanceAdmin: 'instanceAdmin',
};
type Who = keyof typeof standings;
const people: DemoPerson[] = ['owner', ...Object.keys(standings).filter((w) => w !== 'anonymous')].map(
  (sub) => ({
    sub: sub.toLowerCase(),
    name: sub,
    email: `${sub.toLowerCase()}@dept.example`,
    locale: 'en',
    organization: '',
  }),
);

type Probe = 'see' | 'read' | 'post' | 'moderate' | 'manageMembers' | 'viewAudit';
/** What each standing may do, per visibility (the same rules as the policy's own matrix test). */
function expected(who: Who, visibility: string): Probe[] {
  const hidden = visibility === 'members';
  const outsiderView: Probe[] =
    visibility === 'public' || (visibility === 'node' && who !== 'anonymous') ? ['see', 'read'] : [];
  switch (who) {
    case 'anonymous':
      return visibility === 'public' ? ['see', 'read'] : [];
    case 'outsider':
    case 'requested':
    case 'banned':
      return outsiderView;
    case 'invited':
      return hidden ? ['see'] : ['see', 'read'];
    case 'member':
      return ['see', 'read', 'post'];
    case 'moderator':
      return ['see', 'read', 'post', 'moderate'];
    case 'admin':
      return ['see', 'read', 'post', 'moderate', 'manageMembers', 'viewAudit'];
    case 'instanceAdmin':
      return hidden ? ['see'] : ['see', 'read'];
  }
  return [];
}

describe('group access through the REST API: standing × visibility × joining policy × operation', () => {
  let idp: TestIdp;
  let node: RunningNode;
  const as: Partial<Record<Who | 'owner', ApiClient>> = {};
  const groups = groupVisibilities.flatMap((visibility) =>
    joinPolicies.map((joinPolicy) => ({ visibility, joinPolicy, handle: `g-${visibility}-${joinPolicy}` })),
  );

  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people });
    node = await startTestNode({
      port,
      issuers: [idp.issuer],
      env: { INSTANCE_ADMINS: `${idp.url}|instanceadmin` },
    });
    for (const p of people) {
      const browser = new Browser();
      await signIn(browser, node.url, 'dept', p.sub);
      as[(p.name === 'owner' ? 'owner' : p.name) as Who] = new ApiClient(browser, node.url);
    }
    as.anonymous = new ApiClient(new Browser(), node.url);
    const db = node.database.db;
    const users = new Map(
      (await db.collection(collections.users).find().toArray()).map((u) => [
        u.handle as string,
        u._id as ObjectId,
      ]),
    );
    for (const g of groups) {
      expect(
        (
          await as.owner!.call('POST', '/groups', {
            handle: g.handle,
            name: g.handle,
            visibility: g.visibility,
            joinPolicy: g.joinPolicy,
          })
        ).status,
      ).toBe(201);
      const group = await db.collection(collections.groups).findOne({ handle: g.handle });
      // Put each standing in place directly (some cannot be reached through every joining policy).
      for (const [who, standing] of Object.entries(standings)) {
        if (standing === null || typeof standing === 'string') continue;
        await db.collection<{ _id: string; [k: string]: unknown }>(collections.memberships).insertOne({
          _id: membershipId(group!._id, users.get(who.toLowerCase())!),
          groupId: group!._id,
          userId: users.get(who.toLowerCase()),
          ...standing,
          invitedBy: null,
          createdAt: new Date(),
          updatedAt: new Date(),
        });
      }
      await as.owner!.call('POST', `/groups/${g.handle}/threads`, { title: 'Seed thread', body: 'content' });
    }
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  const probes: Record<Probe, (api: ApiClient, g: string) => Promise<number>> = {
    see: async (api, g) => (await api.call('GET', `/groups/${g}`)).status,
    read: async (api, g) => (await api.call('GET', `/groups/${g}/threads`)).status,
    post: async (api, g) =>
      (await api.call('POST', `/groups/${g}/threads`, { title: 'Probe thread', body: 'probe' })).status,
    moderate: async (api, g) => (await api.call('GET', `/groups/${g}/reports`)).status,
    manageMembers: async (api, g) => (await api.call('GET', `/groups/${g}/members?state=banned`)).status,
    viewAudit: async (api, g) => (await api.call('GET', `/groups/${g}/audit`)).status,
  };

  const cells = (Object.keys(standings) as Who[]).flatMap((who) =>
    groups.map((g) => [who, g.visibility, g.joinPolicy, g.handle] as const),
  );

  it.each(cells)('%s in a %s group joined by %s', async (who, visibility, _joinPolicy, handle) => {
    const want = expected(who, visibility);
    const api = as[who]!;
    const got: Record<string, number> = {};
    for (const [probe, run] of Object.entries(probes) as [Probe, (typeof probes)[Probe]][])
      got[probe] = await run(api, handle);
    const allowedProbes = (Object.keys(got) as Probe[]).filter((p) => got[p]! < 300);
    expect(allowedProbes.sort()).toEqual([...want].sort());
    // Whoever may not see the group learns nothing: every refusal is a 404, like a missing group.
    if (!want.includes('see'))
      for (const status of Object.values(got)) expect(status === 404 || status === 401).toBe(true);
    // Whoever sees it is refused with 401 (signed out) or 403, never a 5xx.
    for (const status of Object.values(got)) expect(status).toBeLessThan(500);
  });
});
