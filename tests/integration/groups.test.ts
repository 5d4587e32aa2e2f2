import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { collections } from '../../server/db/collections.js';
import { MailCatcher } from '../../server/mail/mail.catcher.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { png, upload } from '../helpers/images.js';

const cast: DemoPerson[] = ['olivia', 'adam', 'mona', 'mike', 'nina', 'zoe', 'dana'].map((sub) => ({
  sub,
  name: sub[0]!.toUpperCase() + sub.slice(1),
  email: `${sub}@dept.example`,
  locale: 'en',
  organization: '',
}));

describe('groups and membership over the REST API', () => {
  let idp: TestIdp;
  let node: RunningNode;
  const as: Record<string, ApiClient> = {};
  let anonymous: ApiClient;
  const smtp = new MailCatcher(); // a real SMTP server on loopback

  const session = async (who: string) => {
    const browser = new Browser();
    await signIn(browser, node.url, 'dept', who);
    return new ApiClient(browser, node.url);
  };
  const owners = (group: string) =>
    node.database.db
      .collection(collections.groups)
      .findOne({ handle: group })
      .then((g) =>
        node.database.db
          .collection(collections.memberships)
          .countDocuments({ groupId: g!._id, role: 'owner', state: 'active' }),
      );
  const handles = (res: { body: { items: { handle: string }[] } }) =>
    res.body.items.map((i) => i.handle).sort();

  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({
      id: 'dept',
      nodeUrl: `http://127.0.0.1:${port}`,
      people: cast.filter((p) => p.sub !== 'dana'),
    });
    const smtpPort = await smtp.start();
    node = await startTestNode({
      port,
      issuers: [idp.issuer],
      env: { SMTP_URL: `smtp://127.0.0.1:${smtpPort}` },
    });
    for (const who of ['olivia', 'adam', 'mona', 'mike', 'nina', 'zoe']) as[who] = await session(who);
    anonymous = new ApiClient(new Browser(), node.url);
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
    await smtp.stop();
  });

  describe('creating groups', () => {
    it('makes the creator owner, renders descriptions safely, and refuses bad input naming the field', async () => {
      const res = await as.olivia!.call('POST', '/groups', {
        handle: 'open-data',
        name: 'Open data',
        description: { en: 'We **publish** data <script>alert(1)</script>', fr: 'Nous publions des données' },
        visibility: 'public',
        joinPolicy: 'open',
        welcomeMessage: 'Welcome! Read the *pinned* thread.',
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        handle: 'open-data',
        memberCount: 1,
        viewer: { role: 'owner', state: 'active' },
      });
      expect(res.body.description.en.html).toBe('<p>We <strong>publish</strong> data </p>\n');

      const bad = await as.olivia!.call('POST', '/groups', {
        handle: 'Bad Handle',
        name: 'x',
        visibility: 'secret',
        joinPolicy: 'open',
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
        expect.arrayContaining(['body.handle', 'body.name', 'body.visibility']),
      );
    });

    it('names a group in English and French; either name finds it, and an empty one removes it', async () => {
      const res = await as.zoe!.call('POST', '/groups', {
        handle: 'budget-officers',
        name: 'Budget officers',
        names: { en: 'Budget officers', fr: 'Agents des finances' },
        visibility: 'node',
        joinPolicy: 'open',
      });
      expect(res.status).toBe(201);
      expect(res.body.names).toEqual({ en: 'Budget officers', fr: 'Agents des finances' });
      // A French query finds the English-titled group.
      expect(
        handles(await as.nina!.call('GET', `/groups?q=${encodeURIComponent('agents finances')}`)),
      ).toEqual(['budget-officers']);
      const patched = await as.zoe!.call('PATCH', '/groups/budget-officers', { names: { fr: '' } });
      expect(patched.status).toBe(200);
      expect(patched.body.names).toEqual({ en: 'Budget officers' });
      expect(handles(await as.nina!.call('GET', '/groups?q=agents'))).toEqual([]);
      const bad = await as.zoe!.call('PATCH', '/groups/budget-officers', { names: { fr: 'x'.repeat(121) } });
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('body.names.fr');
      expect((await as.zoe!.call('DELETE', '/groups/budget-officers')).status).toBe(204);
    });

    it('refuses a taken handle and leaves nothing half-written', async () => {
      const groups = node.database.db.collection(collections.groups);
      const memberships = node.database.db.collection(collections.memberships);
      const before = [await groups.countDocuments(), await memberships.countDocuments()];
      const res = await as.adam!.call('POST', '/groups', {
        handle: 'open-data',
        name: 'Again',
        visibility: 'public',
        joinPolicy: 'open',
      });
      expect(res.status).toBe(409);
      expect(res.body.errors[0].field).toBe('body.handle');
      expect([await groups.countDocuments(), await memberships.countDocuments()]).toEqual(before);
    });
  });

  it('admins set an avatar and a banner, sniffed from the bytes; members cannot', async () => {
    const image = png();
    const set = await as.olivia!.call(
      'PUT',
      '/groups/open-data/banner',
      upload(image, 'banner.png', 'image/png', 'banner'),
    );
    expect(set.status).toBe(200);
    expect(set.body.bannerUrl).toBe('/api/v1/groups/open-data/banner');
    const download = await fetch(`${node.url}/api/v1/groups/open-data/banner`);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await download.arrayBuffer())).toEqual(image);
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)]);
    expect(
      (await as.olivia!.call('PUT', '/groups/open-data/avatar', upload(exe, 'a.png', 'image/png'))).status,
    ).toBe(415);
    expect(
      (await as.adam!.call('PUT', '/groups/open-data/avatar', upload(image, 'a.png', 'image/png'))).status,
    ).toBe(403);
    expect((await as.olivia!.call('DELETE', '/groups/open-data/banner')).body.bannerUrl).toBeNull();
    expect((await fetch(`${node.url}/api/v1/groups/open-data/banner`)).status).toBe(404);
  });

  describe('visibility', () => {
    beforeAll(async () => {
      for (const [handle, visibility, joinPolicy] of [
        ['node-only', 'node', 'request'],
        ['secret-council', 'members', 'invite'],
      ] as const) {
        expect(
          (await as.olivia!.call('POST', '/groups', { handle, name: handle, visibility, joinPolicy })).status,
        ).toBe(201);
      }
    });

    it('hides members-only groups entirely from non-members, and node groups from anonymous visitors', async () => {
      expect((await anonymous.call('GET', '/groups/open-data')).status).toBe(200);
      expect((await anonymous.call('GET', '/groups/node-only')).status).toBe(404);
      expect((await as.adam!.call('GET', '/groups/node-only')).status).toBe(200);
      const hidden = await as.adam!.call('GET', '/groups/secret-council');
      expect(hidden.status).toBe(404);
      expect(hidden.body.detail).toBe('No group secret-council.');
      expect((await as.adam!.call('GET', '/groups/secret-council/members')).status).toBe(404);
      expect((await as.adam!.call('POST', '/groups/secret-council/requests')).status).toBe(404);

      expect(handles(await anonymous.call('GET', '/groups'))).toEqual(['open-data']);
      expect(handles(await as.adam!.call('GET', '/groups'))).toEqual(['node-only', 'open-data']);
      expect(handles(await as.olivia!.call('GET', '/groups'))).toEqual([
        'node-only',
        'open-data',
        'secret-council',
      ]);
      expect(handles(await as.adam!.call('GET', '/groups?q=secret'))).toEqual([]);
      await as.olivia!.call('PUT', '/groups/secret-council/avatar', upload(png(), 'a.png', 'image/png'));
      expect((await as.olivia!.call('GET', '/groups/secret-council/avatar')).status).toBe(200);
      expect((await as.adam!.call('GET', '/groups/secret-council/avatar')).status).toBe(404);
    });
  });

  describe('joining', () => {
    it('joins an open group at once and shows the welcome message', async () => {
      const res = await as.adam!.call('POST', '/groups/open-data/join');
      expect(res.status).toBe(200);
      expect(res.body.welcomeMessage).toContain('<em>pinned</em>');
      expect((await as.adam!.call('GET', '/groups/open-data')).body).toMatchObject({
        memberCount: 2,
        viewer: { role: 'member' },
      });
      expect((await as.adam!.call('POST', '/groups/open-data/join')).status).toBe(403);
      expect(handles(await as.adam!.call('GET', '/groups?scope=mine'))).toEqual(['open-data']);
    });

    it('asks to join a group that approves members; moderators approve or deny', async () => {
      expect((await as.mona!.call('POST', '/groups/node-only/join')).status).toBe(403);
      expect((await as.mona!.call('POST', '/groups/node-only/requests')).status).toBe(202);
      expect((await as.mona!.call('POST', '/groups/node-only/requests')).status).toBe(403);
      expect((await as.nina!.call('POST', '/groups/node-only/requests')).status).toBe(202);
      // An outsider cannot see the queue or decide.
      expect((await as.adam!.call('GET', '/groups/node-only/members?state=requested')).status).toBe(403);
      expect((await as.adam!.call('POST', '/groups/node-only/requests/mona/approve')).status).toBe(403);
      const queue = await as.olivia!.call('GET', '/groups/node-only/members?state=requested');
      expect(queue.body.items.map((m: { handle: string }) => m.handle).sort()).toEqual(['mona', 'nina']);
      expect((await as.olivia!.call('POST', '/groups/node-only/requests/mona/approve')).status).toBe(204);
      expect((await as.olivia!.call('POST', '/groups/node-only/requests/nina/deny')).status).toBe(204);
      expect((await as.mona!.call('GET', '/groups/node-only')).body.viewer).toMatchObject({
        role: 'member',
        state: 'active',
      });
      expect((await as.nina!.call('GET', '/groups/node-only')).body.viewer.state).toBeNull();
    });

    it('invites a person to a members-only group; they see it, then accept; another declines', async () => {
      expect(
        (await as.adam!.call('POST', '/groups/secret-council/invitations', { person: 'mike' })).status,
      ).toBe(404);
      expect(
        (await as.olivia!.call('POST', '/groups/secret-council/invitations', { person: 'mike' })).status,
      ).toBe(204);
      expect(
        (await as.olivia!.call('POST', '/groups/secret-council/invitations', { person: 'zoe' })).status,
      ).toBe(204);
      const mail = await smtp.waitFor('mike@dept.example');
      expect(mail.subject).toBe('Olivia invites you to secret-council on Ensemble');
      expect(mail.text).toContain(`${node.url}/auth/login`);
      const invited = await as.mike!.call('GET', '/groups/secret-council');
      expect(invited.status).toBe(200);
      expect(invited.body.viewer.can).toEqual(['see', 'respondToInvitation']);
      expect((await as.mike!.call('GET', '/groups/secret-council/members')).status).toBe(403);
      expect((await as.mike!.call('POST', '/groups/secret-council/invitation/accept')).status).toBe(204);
      expect(
        (await as.mike!.call('GET', '/groups/secret-council/members')).body.items
          .map((m: { handle: string }) => m.handle)
          .sort(),
      ).toEqual(['mike', 'olivia']);
      // Waiting invitations are listed to the invited person, and to nobody else.
      expect(handles(await as.zoe!.call('GET', '/groups?scope=invited'))).toEqual(['secret-council']);
      expect(handles(await as.mike!.call('GET', '/groups?scope=invited'))).toEqual([]);
      expect((await anonymous.call('GET', '/groups?scope=invited')).status).toBe(401);
      expect((await as.zoe!.call('POST', '/groups/secret-council/invitation/decline')).status).toBe(204);
      expect(handles(await as.zoe!.call('GET', '/groups?scope=invited'))).toEqual([]);
      expect((await as.zoe!.call('GET', '/groups/secret-council')).status).toBe(404);
    });

    it('does not hand an email invitation to someone whose address is unverified', async () => {
      expect(
        (await as.olivia!.call('POST', '/groups/secret-council/invitations', { email: 'eve@dept.example' }))
          .status,
      ).toBe(204);
      idp.people.push({
        sub: 'eve',
        name: 'Eve',
        email: 'eve@dept.example',
        emailVerified: false,
        locale: 'en',
        organization: '',
      });
      const eve = await session('eve');
      await new Promise((r) => setTimeout(r, 300));
      expect((await eve.call('GET', '/groups/secret-council')).status).toBe(404);
      // And an admin inviting that address does not reach the unverified account either.
      expect(
        (await as.olivia!.call('POST', '/groups/secret-council/invitations', { email: 'eve@dept.example' }))
          .status,
      ).toBe(204);
      expect((await eve.call('GET', '/groups/secret-council')).status).toBe(404);
    });

    it('honours an invitation by email when that address first signs in', async () => {
      expect(
        (await as.olivia!.call('POST', '/groups/secret-council/invitations', { email: 'Dana@dept.example' }))
          .status,
      ).toBe(204);
      idp.people.push(cast.find((p) => p.sub === 'dana')!);
      as.dana = await session('dana');
      let view = await as.dana.call('GET', '/groups/secret-council');
      for (let i = 0; i < 100 && view.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        view = await as.dana.call('GET', '/groups/secret-council');
      }
      expect(view.body.viewer.state).toBe('invited');
      expect(
        await node.database.db
          .collection(collections.groupInvitations)
          .countDocuments({ email: 'dana@dept.example' }),
      ).toBe(0);
    });
  });

  it("lists a person's groups without revealing hidden ones", async () => {
    const own = await as.mike!.call('GET', '/people/mike/memberships');
    expect(own.body.map((m: { group: string }) => m.group)).toEqual(['secret-council']);
    expect((await as.adam!.call('GET', '/people/mike/memberships')).body).toEqual([]);
    const olivia = await as.mike!.call('GET', '/people/olivia/memberships');
    expect(olivia.body).toEqual(
      expect.arrayContaining([{ group: 'secret-council', name: 'secret-council', names: {}, role: 'owner' }]),
    );
    expect(
      (await anonymous.call('GET', '/people/olivia/memberships')).body.map((m: { group: string }) => m.group),
    ).toEqual(['open-data']);
  });

  describe('roles, bans and ownership', () => {
    it('lets nobody escalate: members cannot set roles, admins cannot make admins, moderators cannot remove admins', async () => {
      expect(
        (await as.adam!.call('PUT', '/groups/open-data/members/adam/role', { role: 'admin' })).status,
      ).toBe(403);
      expect(
        (await as.olivia!.call('POST', '/groups/open-data/invitations', { person: 'mona' })).status,
      ).toBe(204);
      expect((await as.mona!.call('POST', '/groups/open-data/invitation/accept')).status).toBe(204);
      expect(
        (await as.olivia!.call('PUT', '/groups/open-data/members/mona/role', { role: 'admin' })).status,
      ).toBe(204);
      expect(
        (await as.olivia!.call('PUT', '/groups/open-data/members/adam/role', { role: 'moderator' })).status,
      ).toBe(204);
      expect(
        (await as.mona!.call('PUT', '/groups/open-data/members/adam/role', { role: 'admin' })).status,
      ).toBe(403);
      expect((await as.adam!.call('DELETE', '/groups/open-data/members/mona')).status).toBe(403);
      expect(
        (await as.mona!.call('PUT', '/groups/open-data/members/olivia/role', { role: 'member' })).status,
      ).toBe(403);
      expect((await as.mona!.call('PUT', '/groups/open-data/bans/olivia', { reason: 'coup' })).status).toBe(
        403,
      );
      expect(
        (await as.olivia!.call('PUT', '/groups/open-data/members/adam/role', { role: 'owner' })).status,
      ).toBe(400);
    });

    it('banned people cannot rejoin until the ban is lifted', async () => {
      expect((await as.nina!.call('POST', '/groups/open-data/join')).status).toBe(200);
      expect((await as.mona!.call('PUT', '/groups/open-data/bans/nina', { reason: 'spam' })).status).toBe(
        204,
      );
      expect((await as.nina!.call('POST', '/groups/open-data/join')).status).toBe(403);
      expect((await as.nina!.call('GET', '/groups/open-data')).body.viewer.state).toBe('banned');
      expect((await as.mona!.call('POST', '/groups/open-data/invitations', { person: 'nina' })).status).toBe(
        409,
      );
      expect((await as.mona!.call('DELETE', '/groups/open-data/bans/nina')).status).toBe(204);
      expect((await as.nina!.call('POST', '/groups/open-data/join')).status).toBe(200);
    });

    it('the owner cannot leave; after transferring ownership they can, and the group always keeps an owner', async () => {
      expect((await as.olivia!.call('POST', '/groups/open-data/leave')).status).toBe(403);
      expect((await as.olivia!.call('POST', '/groups/open-data/transfer', { to: 'zoe' })).status).toBe(404);
      expect((await as.olivia!.call('POST', '/groups/open-data/transfer', { to: 'adam' })).status).toBe(204);
      expect((await as.adam!.call('GET', '/groups/open-data')).body.viewer.role).toBe('owner');
      expect((await as.olivia!.call('GET', '/groups/open-data')).body.viewer.role).toBe('admin');
      expect(await owners('open-data')).toBe(1);
      expect((await as.olivia!.call('POST', '/groups/open-data/leave')).status).toBe(204);
    });

    it('two concurrent transfers cannot leave the group without an owner', async () => {
      expect(
        (await as.olivia!.call('POST', '/groups/node-only/invitations', { person: 'adam' })).status,
      ).toBe(204);
      expect((await as.adam!.call('POST', '/groups/node-only/invitation/accept')).status).toBe(204);
      await Promise.all([
        as.olivia!.call('POST', '/groups/node-only/transfer', { to: 'mona' }),
        as.olivia!.call('POST', '/groups/node-only/transfer', { to: 'adam' }),
      ]);
      expect(await owners('node-only')).toBeGreaterThanOrEqual(1);
    });

    it('gives the group a new owner when the owner account is deactivated', async () => {
      expect(
        (
          await as.mike!.call('POST', '/groups', {
            handle: 'mikes-group',
            name: 'Mike',
            visibility: 'public',
            joinPolicy: 'open',
          })
        ).status,
      ).toBe(201);
      expect((await as.zoe!.call('POST', '/groups/mikes-group/join')).status).toBe(200);
      await node.node.services.accounts.deactivate({ kind: 'system', reason: 'test' }, 'mike');
      let role: string | null = null;
      for (let i = 0; i < 100 && role !== 'owner'; i++) {
        role = (await as.zoe!.call('GET', '/groups/mikes-group')).body.viewer.role;
        if (role !== 'owner') await new Promise((r) => setTimeout(r, 50));
      }
      expect(role).toBe('owner');
    });

    it('keeps an audit log visible to admins only', async () => {
      const log = await as.mona!.call('GET', '/groups/open-data/audit');
      expect(log.status).toBe(200);
      expect(log.body.map((e: { action: string }) => e.action)).toEqual(
        expect.arrayContaining([
          'member.banned',
          'member.unbanned',
          'member.role',
          'group.ownership_transferred',
        ]),
      );
      const ban = log.body.find((e: { action: string }) => e.action === 'member.banned');
      expect(ban.actor).toEqual({ handle: expect.any(String), displayName: expect.any(String) });
      expect(ban.target).toEqual({ handle: ban.target.handle, displayName: expect.any(String) });
      expect(ban.targetUserId).toMatch(/^[0-9a-f]{24}$/);
      expect((await as.nina!.call('GET', '/groups/open-data/audit')).status).toBe(403);
    });
  });

  describe('deleting and restoring', () => {
    it('a deleted group disappears for everyone, and its owner restores it', async () => {
      expect((await as.mona!.call('DELETE', '/groups/open-data')).status).toBe(403);
      expect((await as.adam!.call('DELETE', '/groups/open-data')).status).toBe(204);
      expect((await as.nina!.call('GET', '/groups/open-data')).status).toBe(404);
      expect((await anonymous.call('GET', '/groups/open-data')).status).toBe(404);
      expect(handles(await as.nina!.call('GET', '/groups'))).not.toContain('open-data');
      expect((await as.nina!.call('POST', '/groups/open-data/restore')).status).toBe(404);
      // Its owner finds it among the deleted groups they may restore; nobody else does.
      const deleted = await as.adam!.call('GET', '/groups?scope=deleted');
      expect(handles(deleted)).toEqual(['open-data']);
      expect(deleted.body.items[0].viewer.can).toEqual(['restore']);
      expect(deleted.body.items[0].deletedAt).not.toBeNull();
      expect(handles(await as.nina!.call('GET', '/groups?scope=deleted'))).toEqual([]);
      expect(handles(await as.adam!.call('GET', '/groups?scope=mine'))).not.toContain('open-data');
      const restored = await as.adam!.call('POST', '/groups/open-data/restore');
      expect(restored.status).toBe(200);
      expect(restored.body.deletedAt).toBeNull();
      expect((await anonymous.call('GET', '/groups/open-data')).status).toBe(200);
      expect(handles(await as.adam!.call('GET', '/groups?scope=deleted'))).toEqual([]);
    });
  });

  it('keeps the member count as people join at once, leave, are removed or banned', async () => {
    expect(
      (
        await as.olivia!.call('POST', '/groups', {
          handle: 'counted',
          name: 'Counted',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    const count = async () => (await anonymous.call('GET', '/groups/counted')).body.memberCount;
    const listed = async () =>
      (await as.olivia!.call('GET', '/groups/counted/members?limit=50')).body.items.length;
    const joiners = ['adam', 'mona', 'nina', 'zoe', 'dana'];
    const joined = await Promise.all(joiners.map((who) => as[who]!.call('POST', '/groups/counted/join')));
    expect(joined.map((r) => r.status)).toEqual(joiners.map(() => 200));
    expect(await count()).toBe(6);
    expect(await listed()).toBe(6);
    expect((await as.adam!.call('POST', '/groups/counted/leave')).status).toBe(204);
    expect((await as.adam!.call('POST', '/groups/counted/leave')).status).toBe(403);
    expect(await count()).toBe(5);
    expect((await as.olivia!.call('PUT', '/groups/counted/bans/mona', { reason: 'spam' })).status).toBe(204);
    // Banning someone who is not a member, or twice, takes nobody off the count.
    expect((await as.olivia!.call('PUT', '/groups/counted/bans/adam', { reason: 'spam' })).status).toBe(204);
    expect((await as.olivia!.call('PUT', '/groups/counted/bans/mona', { reason: 'spam' })).status).toBe(204);
    expect(await count()).toBe(4);
    expect((await as.olivia!.call('DELETE', '/groups/counted/members/nina')).status).toBe(204);
    expect(await count()).toBe(3);
    expect(await listed()).toBe(3);
  });
});
