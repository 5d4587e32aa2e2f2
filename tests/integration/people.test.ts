import http from 'node:http';
import type { CommandStartedEvent } from 'mongodb';
import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { collections } from '../../server/db/collections.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { documentCounts } from '../helpers/db.js';
import { png, upload } from '../helpers/images.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

/**
 * PUT a multipart upload announcing `size` bytes, send only its first kilobyte, and return the answer; an
 * answer that needs the rest of the body never comes (then this rejects after a few seconds).
 */
function partialUpload(url: string, size: number): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const boundary = 'partial-upload-boundary';
    const req = http.request(url, {
      method: 'PUT',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(size),
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no answer before the whole body was sent: the body is read before sign-in'));
    }, 5000);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.write(
      `--${boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n` +
        `Content-Type: image/png\r\n\r\n${'x'.repeat(1024)}`,
    );
  });
}

const people = (): DemoPerson[] => [
  { sub: 'alice', name: 'Alice Tremblay', email: 'alice@tbs.example', locale: 'en', organization: 'tbs' },
  { sub: 'bruno', name: 'Bruno Côté', email: 'bruno@nrcan.example', locale: 'fr', organization: 'nrcan' },
  { sub: 'chloe', name: 'Chloé Martin', email: 'chloe@tbs.example', locale: 'fr', organization: 'tbs' },
];

describe('profiles, directory and administration', () => {
  let idp: TestIdp;
  let central: TestIdp;
  let node: RunningNode;
  const as: Record<string, ApiClient> = {};
  let anonymous: ApiClient;

  async function session(issuer: string, who: string): Promise<ApiClient> {
    const browser = new Browser();
    await signIn(browser, node.url, issuer, who);
    return new ApiClient(browser, node.url);
  }

  beforeAll(async () => {
    const port = await freePort();
    const nodeUrl = `http://127.0.0.1:${port}`;
    idp = await startTestIdp({ id: 'dept', nodeUrl, people: people() });
    central = await startTestIdp({
      id: 'central',
      nodeUrl,
      people: [
        {
          sub: 'b-cote',
          name: 'Bruno Côté',
          email: 'bruno.cote@central.example',
          locale: 'fr',
          organization: '',
        },
      ],
    });
    node = await startTestNode({
      port,
      issuers: [idp.issuer, central.issuer],
      env: { INSTANCE_ADMINS: `${idp.url}|alice` },
      monitorCommands: true,
    });
    const system = { kind: 'system', reason: 'test' } as const;
    for (const [slug, en, fr] of [
      ['tbs', 'Treasury Board Secretariat', 'Secrétariat du Conseil du Trésor'],
      ['nrcan', 'Natural Resources Canada', 'Ressources naturelles Canada'],
    ] as const) {
      await node.node.services.organizations.create(system, {
        slug,
        name: { en, fr },
        acronym: { en: slug.toUpperCase(), fr: slug.toUpperCase() },
        emailDomains: [],
        claimValues: [slug],
      });
    }
    for (const who of ['alice', 'bruno', 'chloe']) as[who] = await session('dept', who);
    anonymous = new ApiClient(new Browser(), node.url);
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
    await central.close();
  });

  describe('field visibility', () => {
    beforeAll(async () => {
      const res = await as.alice!.call('PATCH', '/me/profile', {
        jobTitle: { en: 'Policy analyst', fr: 'Analyste des politiques' },
        location: 'Gatineau',
        about: 'I work on **open data**. <script>alert("x")</script>',
        skills: ['Python', 'Évaluation'],
        contact: { phone: '+1 613 555 0100' },
        visibility: { skills: 'private', location: 'node', jobTitle: 'public', contact: 'private' },
      });
      expect(res.status).toBe(200);
    });

    it('shows anyone only the public fields', async () => {
      const res = await anonymous.call('GET', '/people/alice');
      expect(res.status).toBe(200);
      expect(res.body.jobTitle).toEqual({ en: 'Policy analyst', fr: 'Analyste des politiques' });
      expect(res.body.organization).toMatchObject({ slug: 'tbs' });
      for (const hidden of ['location', 'about', 'skills', 'contact', 'visibility'])
        expect(res.body).not.toHaveProperty(hidden);
    });

    it('shows signed-in people of the node the node fields, never the private ones', async () => {
      const res = await as.bruno!.call('GET', '/people/alice');
      expect(res.body.location).toBe('Gatineau');
      expect(res.body.about.html).toContain('<strong>open data</strong>');
      expect(JSON.stringify(res.body)).not.toMatch(/script|alert/);
      expect(res.body).not.toHaveProperty('skills');
      expect(res.body).not.toHaveProperty('contact');
      expect(JSON.stringify(res.body)).not.toContain('Python');
    });

    it('shows the person everything, with the visibility of each field', async () => {
      const res = await as.alice!.call('GET', '/me');
      expect(res.body.profile.skills).toEqual(['Python', 'Évaluation']);
      expect(res.body.profile.contact).toEqual({ phone: '+1 613 555 0100' });
      expect(res.body.profile.visibility).toMatchObject({ skills: 'private', location: 'node' });
    });

    it('clears a contact field sent as null and leaves the others', async () => {
      const set = await as.chloe!.call('PATCH', '/me/profile', {
        contact: { email: 'chloe@tbs.example', phone: '+1 613 555 0199' },
      });
      expect(set.body.profile.contact).toEqual({ email: 'chloe@tbs.example', phone: '+1 613 555 0199' });
      const cleared = await as.chloe!.call('PATCH', '/me/profile', { contact: { phone: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.profile.contact).toEqual({ email: 'chloe@tbs.example' });
      expect((await as.chloe!.call('GET', '/me')).body.profile.contact).toEqual({
        email: 'chloe@tbs.example',
      });
    });

    it('never finds a person by a field they keep private', async () => {
      const bySkill = await as.bruno!.call('GET', '/people?q=python');
      expect(bySkill.body.items.map((p: { handle: string }) => p.handle)).not.toContain('alice');
      const byTitle = await as.bruno!.call('GET', '/people?q=analyste');
      expect(byTitle.body.items.map((p: { handle: string }) => p.handle)).toEqual(['alice']);
      // The public result carries no private field either.
      expect(byTitle.body.items[0]).not.toHaveProperty('skills');
    });
  });

  describe('directory', () => {
    it('finds people by name whatever the accents and case, and by organization', async () => {
      const res = await as.alice!.call('GET', '/people?q=COTE');
      expect(res.body.items.map((p: { handle: string }) => p.handle)).toEqual(['bruno']);
      const french = await as.alice!.call('GET', `/people?q=${encodeURIComponent('chloé')}`);
      expect(french.body.items.map((p: { handle: string }) => p.handle)).toEqual(['chloe']);
      const byOrg = await as.alice!.call('GET', '/people?q=treasury');
      expect(byOrg.body.items.map((p: { handle: string }) => p.handle).sort()).toEqual(['alice', 'chloe']);
      const byOrgFr = await as.alice!.call('GET', '/people?q=tresor');
      expect(byOrgFr.body.items).toHaveLength(2);
    });

    it('pages through people with a cursor', async () => {
      const first = await as.alice!.call('GET', '/people?limit=2');
      expect(first.body.items).toHaveLength(2);
      expect(first.body.nextCursor).toBe(first.body.items[1].handle);
      const second = await as.alice!.call('GET', `/people?limit=2&cursor=${first.body.nextCursor}`);
      const handles = [...first.body.items, ...second.body.items].map((p: { handle: string }) => p.handle);
      expect(new Set(handles).size).toBe(handles.length);
    });

    it('lists an organization page of its people', async () => {
      const res = await as.bruno!.call('GET', '/organizations/tbs/people');
      expect(res.body.items.map((p: { handle: string }) => p.handle).sort()).toEqual(['alice', 'chloe']);
      expect((await as.bruno!.call('GET', '/organizations/nowhere/people')).status).toBe(404);
    });

    it('filters by skill and by first official language, never by a field kept private', async () => {
      await as.chloe!.call('PATCH', '/me/profile', {
        skills: ['Analyse de données', 'Python'],
        languages: { first: 'fr' },
        visibility: { skills: 'node', languages: 'node' },
      });
      const handles = (res: { body: { items: { handle: string }[] } }) => res.body.items.map((p) => p.handle);
      // The whole skill, accents and case ignored; a word of it is not the skill.
      expect(handles(await as.bruno!.call('GET', '/people?skill=ANALYSE%20DE%20DONNEES'))).toEqual(['chloe']);
      expect(handles(await as.bruno!.call('GET', '/people?skill=analyse'))).toEqual([]);
      // alice lists Python too, privately: the filter does not reveal it.
      expect(handles(await as.bruno!.call('GET', '/people?skill=python'))).toEqual(['chloe']);
      expect(handles(await as.bruno!.call('GET', '/people?language=fr'))).toEqual(['chloe']);
      expect(handles(await as.bruno!.call('GET', '/people?language=en'))).toEqual([]);
      expect(handles(await as.bruno!.call('GET', '/people?language=fr&organization=nrcan'))).toEqual([]);
      // Words of the query and filters apply together.
      expect(handles(await as.bruno!.call('GET', '/people?q=chlo&skill=python'))).toEqual(['chloe']);
      const bad = await as.bruno!.call('GET', '/people?language=de');
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('query.language');

      // Made private, the skill leaves the filter.
      await as.chloe!.call('PATCH', '/me/profile', { visibility: { skills: 'private' } });
      expect(handles(await as.bruno!.call('GET', '/people?skill=python'))).toEqual([]);
      await as.chloe!.call('PATCH', '/me/profile', { visibility: { skills: 'node' } });
    });

    it('builds the filters again for every person (schema 6 migration)', async () => {
      const users = node.database.db.collection(collections.users);
      // As written before schema 6: word prefixes only.
      const chloe = (await users.findOne({ handle: 'chloe' }))!;
      const words = (chloe.searchTokens as string[]).filter((t) => !/^(skill|lang):/.test(t));
      await users.updateOne({ _id: chloe._id }, { $set: { searchTokens: words } });
      expect((await as.bruno!.call('GET', '/people?language=fr')).body.items).toEqual([]);
      await node.node.services.profiles.reindexAll();
      const res = await as.bruno!.call('GET', '/people?language=fr');
      expect(res.body.items.map((p: { handle: string }) => p.handle)).toEqual(['chloe']);
    });

    it('is for signed-in people only', async () => {
      const res = await anonymous.call('GET', '/people?q=alice');
      expect(res.status).toBe(401);
    });

    it('rejects a bad query with a problem naming the field', async () => {
      const res = await as.alice!.call('GET', '/people?limit=500');
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe('query.limit');
    });
  });

  it('keeps both of two profile edits sent at the same moment', async () => {
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([
        as.bruno!.call('PATCH', '/me/profile', { displayName: `Bruno ${round}` }),
        as.bruno!.call('PATCH', '/me/profile', { location: `Gatineau ${round}` }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const me = (await as.bruno!.call('GET', '/me')).body;
      expect(me.profile).toMatchObject({ displayName: `Bruno ${round}`, location: `Gatineau ${round}` });
    }
  });

  describe('interface language', () => {
    it('is remembered per person across sign-ins, over the provider’s locale', async () => {
      // bruno's provider says French; he chooses English in Ensemble.
      expect((await as.bruno!.call('GET', '/me')).body.locale).toBe('fr');
      const res = await as.bruno!.call('PUT', '/me/locale', { locale: 'en' });
      expect(res.status).toBe(200);
      expect(res.body.locale).toBe('en');
      const again = await session('dept', 'bruno');
      expect((await again.call('GET', '/me')).body.locale).toBe('en');
      // A person who never chose keeps following the provider.
      expect((await (await session('dept', 'chloe')).call('GET', '/me')).body.locale).toBe('fr');
      await as.bruno!.call('PUT', '/me/locale', { locale: 'fr' });
    });

    it('refuses a language it does not have, naming the field, and changes nothing', async () => {
      const res = await as.bruno!.call('PUT', '/me/locale', { locale: 'de' });
      expect(res.status).toBe(400);
      expect(res.type).toMatch(/problem\+json/);
      expect(res.body.errors[0].field).toBe('body.locale');
      expect((await as.bruno!.call('GET', '/me')).body.locale).toBe('fr');
      expect((await anonymous.call('PUT', '/me/locale', { locale: 'en' })).status).toBe(401);
    });
  });

  describe('profile validation', () => {
    it.each([
      [{ contact: { website: 'javascript:alert(1)' } }, 'body.contact.website'],
      [{ displayName: 'x'.repeat(101) }, 'body.displayName'],
      [{ skills: Array.from({ length: 31 }, (_, i) => `skill ${i}`) }, 'body.skills'],
      [{ visibility: { skills: 'everyone' } }, 'body.visibility.skills'],
      [{ isAdmin: true }, 'body'],
      [{ organization: 'no-such-org' }, 'body.organization'],
    ])('refuses %j naming %s, and stores nothing', async (patch, field) => {
      const before = await node.database.db.collection(collections.users).findOne({ handle: 'bruno' });
      const res = await as.bruno!.call('PATCH', '/me/profile', patch);
      expect(res.status).toBe(400);
      expect(res.type).toMatch(/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(await node.database.db.collection(collections.users).findOne({ handle: 'bruno' })).toEqual(
        before,
      );
    });
  });

  describe('avatars', () => {
    it('stores an image sniffed from its bytes and serves it to whoever may see it', async () => {
      const image = png();
      // The node's first upload makes no collection or index: they were made at boot. Made by a request
      // under load, one refused as busy left a collection no upload could write to again (500s).
      const schemaChanges: string[] = [];
      const watch = (e: CommandStartedEvent) => {
        if (['create', 'createIndexes', 'drop', 'dropIndexes'].includes(e.commandName))
          schemaChanges.push(`${e.commandName} ${JSON.stringify(e.command[e.commandName])}`);
      };
      node.database.client.on('commandStarted', watch);
      const res = await as.chloe!.call('PUT', '/me/avatar', upload(image, 'me.png', 'image/png'));
      node.database.client.off('commandStarted', watch);
      expect(schemaChanges).toEqual([]);
      expect(res.status).toBe(200);
      expect(res.body.profile.avatarUrl).toBe('/api/v1/people/chloe/avatar');
      const download = await fetch(`${node.url}/api/v1/people/chloe/avatar`);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await download.arrayBuffer())).toEqual(image);

      await as.chloe!.call('PATCH', '/me/profile', { visibility: { avatar: 'node' } });
      expect((await fetch(`${node.url}/api/v1/people/chloe/avatar`)).status).toBe(404);
      expect((await as.bruno!.call('GET', '/people/chloe/avatar')).status).toBe(200);
    });

    it('refuses a program declared as image/png', async () => {
      const before = await documentCounts(node.database.db);
      const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(200)]);
      const res = await as.bruno!.call('PUT', '/me/avatar', upload(elf, 'photo.png', 'image/png'));
      expect(res.status).toBe(415);
      expect(res.body.errors[0].field).toBe('body.avatar');
      expect(await documentCounts(node.database.db)).toEqual(before);
    });

    it('refuses an anonymous avatar or banner upload with 401 before reading its body', async () => {
      // Headers and the first bytes of a 3 MiB form; the rest is never sent. The answer must come anyway.
      for (const path of ['/api/v1/me/avatar', '/api/v1/groups/anything/banner']) {
        const res = await partialUpload(`${node.url}${path}`, 3 * 1024 * 1024);
        expect(res).toMatchObject({
          status: 401,
          type: expect.stringMatching(/^application\/problem\+json/),
        });
        expect(JSON.parse(res.body)).toMatchObject({ type: '/problems/unauthenticated' });
      }
    });

    it('refuses an image over 2 MiB with 413', async () => {
      const big = Buffer.concat([png(), Buffer.alloc(2 * 1024 * 1024 + 10)]);
      const res = await as.bruno!.call('PUT', '/me/avatar', upload(big, 'big.png', 'image/png'));
      expect(res.status).toBe(413);
      expect(res.body.type).toBe('/problems/payload-too-large');
    });
  });

  describe('organizations', () => {
    const input = {
      slug: 'esdc',
      name: { en: 'Employment and Social Development Canada', fr: 'Emploi et Développement social Canada' },
      acronym: { en: 'ESDC', fr: 'EDSC' },
      emailDomains: ['esdc.example'],
    };

    it('only an instance administrator creates or changes organizations', async () => {
      expect((await as.bruno!.call('POST', '/organizations', input)).status).toBe(403);
      expect((await anonymous.call('POST', '/organizations', input)).status).toBe(401);
      const created = await as.alice!.call('POST', '/organizations', input);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ slug: 'esdc', acronym: { fr: 'EDSC' } });
      const dup = await as.alice!.call('POST', '/organizations', input);
      expect(dup.status).toBe(409);
      const patched = await as.alice!.call('PATCH', '/organizations/esdc', {
        emailDomains: ['hrsdc.example'],
      });
      expect(patched.body.emailDomains).toEqual(['hrsdc.example']);
      expect((await anonymous.call('GET', '/organizations/esdc')).body.name.fr).toBe(input.name.fr);
    });

    it('refuses to move an organization onto a taken slug with 409, changing nothing', async () => {
      // FerretDB refuses such an update with code 1 (its backend's unique constraint), not 11000.
      const other = { ...input, slug: 'csps', emailDomains: ['csps.example'] };
      expect((await as.alice!.call('POST', '/organizations', other)).status).toBe(201);
      const res = await as.alice!.call('PATCH', '/organizations/csps', { slug: 'tbs' });
      expect(res.status).toBe(409);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: '/problems/conflict', errors: [{ field: 'body.slug' }] });
      expect((await anonymous.call('GET', '/organizations/csps')).body.emailDomains).toEqual([
        'csps.example',
      ]);
      expect((await anonymous.call('GET', '/organizations/tbs')).body.name.en).toBe(
        'Treasury Board Secretariat',
      );
    });

    it('refuses an invalid organization naming the field', async () => {
      const res = await as.alice!.call('POST', '/organizations', {
        ...input,
        slug: 'Bad Slug!',
        emailDomains: ['not a domain'],
      });
      expect(res.status).toBe(400);
      const fields = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['body.slug', 'body.emailDomains.0']));
    });
  });

  describe('deactivation and merging', () => {
    it('deactivation ends the sessions at once and refuses sign-in; reactivation restores it', async () => {
      const dev = await session('dept', 'chloe');
      expect((await dev.call('GET', '/me')).status).toBe(200);
      const res = await as.alice!.call('POST', '/admin/people/chloe/deactivate');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('deactivated');
      expect((await dev.call('GET', '/me')).status).toBe(401);
      expect((await as.chloe!.call('GET', '/me')).status).toBe(401);
      const users = node.database.db.collection(collections.users);
      const chloe = await users.findOne({ handle: 'chloe' });
      expect(
        await node.database.db
          .collection(collections.sessions)
          .countDocuments({ 'session.passport.user': chloe!._id.toHexString() }),
      ).toBe(0);
      const again = new Browser();
      const { res: refused } = await signIn(again, node.url, 'dept', 'chloe');
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('deactivated');
      expect((await as.bruno!.call('GET', '/people/chloe')).status).toBe(404);
      expect((await as.bruno!.call('GET', '/people?q=chloe')).body.items).toEqual([]);
      // Administrators find deactivated people (to reactivate them); nobody else may list them.
      const listed = await as.alice!.call('GET', '/people?status=deactivated');
      expect(listed.body.items.map((p: { handle: string }) => p.handle)).toEqual(['chloe']);
      expect(listed.body.items[0].status).toBe('deactivated');
      expect((await as.bruno!.call('GET', '/people?status=deactivated')).status).toBe(403);

      expect((await as.bruno!.call('POST', '/admin/people/chloe/reactivate')).status).toBe(403);
      expect((await as.alice!.call('POST', '/admin/people/chloe/reactivate')).status).toBe(200);
      as.chloe = await session('dept', 'chloe');
      expect((await as.chloe.call('GET', '/me')).body.profile.handle).toBe('chloe');
    });

    it('merges two accounts of one person: the other identity then signs in to the surviving account', async () => {
      const second = await session('central', 'b-cote');
      const secondHandle = (await second.call('GET', '/me')).body.profile.handle;
      expect(secondHandle).not.toBe('bruno');
      // What the second account wrote is the surviving account's after the merge.
      expect(
        (
          await second.call('POST', '/groups', {
            handle: 'merge-notes',
            name: 'Merge notes',
            description: { en: 'Notes', fr: 'Notes' },
            visibility: 'public',
            joinPolicy: 'open',
          })
        ).status,
      ).toBe(201);
      const thread = await second.call('POST', '/groups/merge-notes/threads', { title: 'Notes', body: 'x' });
      expect(thread.status).toBe(201);
      const res = await as.alice!.call('POST', '/admin/people/merge', { from: secondHandle, into: 'bruno' });
      expect(res.status).toBe(200);
      expect((await second.call('GET', '/me')).status).toBe(401);
      const again = await session('central', 'b-cote');
      const me = await again.call('GET', '/me');
      expect(me.body.profile.handle).toBe('bruno');
      expect(me.body.identities).toEqual(
        expect.arrayContaining([
          { issuer: idp.url, sub: 'bruno' },
          { issuer: central.url, sub: 'b-cote' },
        ]),
      );
      expect((await as.bruno!.call('GET', `/people/${secondHandle}`)).status).toBe(404);
      const after = await as.bruno!.call('GET', `/threads/${thread.body.id}`);
      expect(after.body.author.handle).toBe('bruno');
    });
  });
});
