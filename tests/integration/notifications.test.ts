import { ObjectId } from 'mongodb';
import { MailCatcher } from '../../server/mail/mail.catcher.js';
import { FANOUT_BATCH } from '../../server/notifications/notification.fanout.js';
import { NotificationRepository } from '../../server/notifications/notification.repository.js';
import { insertFollowers } from '../helpers/crowd.js';
import { connectSocket, until } from '../helpers/sockets.js';
import { startWorld, type World } from '../helpers/world.js';

type Item = {
  id: string;
  kind: string;
  group: string;
  threadId: string | null;
  actor: string | null;
  read: boolean;
};

describe('notifications', () => {
  let w: World;
  let smtpPort = 0;
  const smtp = new MailCatcher();
  const db = () => w.node.database.db;
  /** Let the event listeners enqueue their jobs, then run every job until none is left. */
  const settle = async () => {
    for (let quiet = 0, i = 0; quiet < 2 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 30));
      await w.node.node.jobs.drain();
      quiet = (await db().collection('jobs').countDocuments({ state: 'pending' })) === 0 ? quiet + 1 : 0;
    }
  };
  const list = async (who: string) =>
    (await w.as[who]!.call('GET', '/notifications?limit=50')).body as { items: Item[]; unread: number };
  const kinds = async (who: string) => (await list(who)).items.map((i) => `${i.kind}:${i.actor}`);
  const userId = async (handle: string) =>
    (await db().collection('users').findOne({ handle }))!._id as ObjectId;

  beforeAll(async () => {
    smtpPort = await smtp.start();
    w = await startWorld(
      ['owen', 'mia', 'max', 'otto', 'fay'],
      { SMTP_URL: `smtp://127.0.0.1:${smtpPort}` },
      { fay: 'fr' },
    );
    expect(
      (
        await w.as.owen!.call('POST', '/groups', {
          handle: 'notes',
          name: 'Notes',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await w.as.owen!.call('POST', '/groups', {
          handle: 'inner',
          name: 'Inner',
          visibility: 'members',
          joinPolicy: 'request',
        })
      ).status,
    ).toBe(201);
    const gate = { handle: 'gate', name: 'Gate', visibility: 'node', joinPolicy: 'request' };
    expect((await w.as.owen!.call('POST', '/groups', gate)).status).toBe(201);
    for (const who of ['mia', 'max', 'fay'])
      expect((await w.as[who]!.call('POST', '/groups/notes/join')).status).toBe(200);
  });
  afterAll(async () => {
    await w.close();
    await smtp.stop();
  });

  it('tells people of replies to their posts, mentions and activity in threads they follow, live and in a list', async () => {
    const live = await connectSocket(w.node.url, w.as.owen);
    const thread = await w.as.owen!.call('POST', '/groups/notes/threads', {
      title: 'Budget',
      body: 'Numbers?',
    });
    await settle();
    await w.as.mia!.call('POST', `/threads/${thread.body.id}/replies`, { body: 'Here they are' });
    await settle();
    await w.as.max!.call('POST', `/threads/${thread.body.id}/replies`, {
      body: 'Thanks, @otto should see this',
    });
    await settle();
    expect(await kinds('owen')).toEqual(['reply:max', 'reply:mia']); // replies to the thread are answers to its author
    expect(await kinds('mia')).toEqual(['thread.activity:max']); // mia follows the thread she answered
    expect(await kinds('otto')).toEqual(['mention:max']);
    expect(await kinds('max')).toEqual([]); // never told of one's own posts
    await until(() => live.of('notification').length === 2);
    expect(live.of('notification').map((n) => n.kind)).toEqual(['reply', 'reply']);
    live.close();

    const owen = await list('owen');
    expect(owen.unread).toBe(2);
    expect((await w.as.owen!.call('POST', '/notifications/read', { ids: [owen.items[0]!.id] })).status).toBe(
      204,
    );
    expect((await list('owen')).unread).toBe(1);
    expect((await w.as.mia!.call('POST', '/notifications/read', { ids: [owen.items[1]!.id] })).status).toBe(
      404,
    );
    expect((await w.as.owen!.call('POST', '/notifications/read', { all: true })).status).toBe(204);
    expect((await list('owen')).items.every((i) => i.read)).toBe(true);
    expect((await w.as.owen!.call('POST', '/notifications/read', {})).status).toBe(400);
  });

  it('notifies each person once per event even when a batch job runs again', async () => {
    const before = (await list('otto')).items.length;
    const group = await db().collection('groups').findOne({ handle: 'notes' });
    const batch = {
      groupId: group!._id.toHexString(),
      threadId: null,
      replyId: null,
      actorId: (await userId('owen')).toHexString(),
      targets: [{ kind: 'mention', users: [(await userId('otto')).toHexString()] }],
      event: new ObjectId().toHexString(),
    };
    await w.node.node.jobs.enqueue('notify.batch', batch); // as if a worker died after writing,
    await w.node.node.jobs.enqueue('notify.batch', batch); // and the batch ran again
    await settle();
    expect((await list('otto')).items.length).toBe(before + 1);
  });

  it('follows and mutes groups and threads; an owner can post without notifying', async () => {
    const before = (await list('mia')).items.length;
    expect((await w.as.mia!.call('PUT', '/groups/notes/subscription', { level: 'all' })).body).toEqual({
      group: 'notes',
      level: 'all',
    });
    const announced = await w.as.owen!.call('POST', '/groups/notes/threads', {
      title: 'Picnic',
      body: 'Friday',
    });
    await settle();
    expect((await list('mia')).items.slice(0, 1).map((i) => [i.kind, i.threadId])).toEqual([
      ['thread.new', announced.body.id],
    ]);

    await w.as.owen!.call('POST', '/groups/notes/threads', {
      title: 'Draft',
      body: 'not yet',
      notify: false,
    });
    await settle();
    expect((await list('mia')).items.length).toBe(before + 1);
    expect(
      (await w.as.mia!.call('POST', '/groups/notes/threads', { title: 'Sneaky', body: 'x', notify: false }))
        .status,
    ).toBe(403);

    expect(
      (await w.as.mia!.call('PUT', `/threads/${announced.body.id}/subscription`, { level: 'all' })).status,
    ).toBe(200);
    await w.as.max!.call('POST', `/threads/${announced.body.id}/replies`, { body: 'I will bring cake' });
    await settle();
    expect((await list('mia')).items[0]!.kind).toBe('thread.activity');
    await w.as.mia!.call('PUT', `/threads/${announced.body.id}/subscription`, { level: 'none' });
    await w.as.max!.call('POST', `/threads/${announced.body.id}/replies`, { body: 'and juice' });
    await settle();
    expect((await list('mia')).items.length).toBe(before + 2);

    // Threads posted at once are planned together, in fewer jobs (ADR 0041): mia hears of each, once.
    const burst = await Promise.all(
      ['One', 'Two', 'Three', 'Four', 'Five'].map((title) =>
        w.as.owen!.call('POST', '/groups/notes/threads', { title, body: 'at once' }),
      ),
    );
    await settle();
    const heard = (await list('mia')).items;
    expect(heard.length).toBe(before + 7);
    expect(
      heard
        .slice(0, 5)
        .map((i) => `${i.kind}:${i.threadId}`)
        .sort(),
    ).toEqual(burst.map((b) => `thread.new:${b.body.id as string}`).sort());

    await w.as.mia!.call('PUT', '/groups/notes/subscription', { level: 'mute' });
    await w.as.owen!.call('POST', '/groups/notes/threads', { title: 'Muted', body: `@mia are you there?` });
    await settle();
    expect((await list('mia')).items.length).toBe(before + 7);
    expect((await w.as.mia!.call('GET', '/groups/notes/subscription')).body.level).toBe('mute');
    expect((await w.as.mia!.call('PUT', '/groups/notes/subscription', { level: 'loud' })).status).toBe(400);
    expect((await w.as.otto!.call('PUT', '/groups/inner/subscription', { level: 'all' })).status).toBe(404);
  });

  it('tells moderators of join requests and people of invitations; no one outside a members-only group hears of it', async () => {
    // mia moderates gate for a while.
    await w.as.owen!.call('POST', '/groups/gate/invitations', { person: 'mia' });
    expect((await w.as.mia!.call('POST', '/groups/gate/invitation/accept')).status).toBe(204);
    const role = (r: string) => w.as.owen!.call('PUT', '/groups/gate/members/mia/role', { role: r });
    expect((await role('moderator')).status).toBe(204);
    expect((await w.as.max!.call('POST', '/groups/gate/requests')).status).toBe(202);
    await settle();
    for (const moderator of ['owen', 'mia'])
      expect((await list(moderator)).items[0]).toMatchObject({
        kind: 'join.request',
        actor: 'max',
        group: 'gate',
      });
    // Back to member: the request is no longer hers to see, though she still reads the group.
    expect((await role('member')).status).toBe(204);
    expect((await list('mia')).items.map((i) => i.kind)).not.toContain('join.request');
    await w.as.owen!.call('POST', '/groups/inner/invitations', { person: 'otto' });
    await settle();
    expect((await list('otto')).items[0]).toMatchObject({
      kind: 'invitation',
      actor: 'owen',
      group: 'inner',
    });

    // otto follows a thread of the members-only group by way of a mention, but is not a member: nothing.
    const secret = await w.as.owen!.call('POST', '/groups/inner/threads', {
      title: 'Secret',
      body: '@otto look',
    });
    await settle();
    expect((await list('otto')).items.map((i) => i.threadId)).not.toContain(secret.body.id);
  });

  it('mails at once, or in a daily digest, in the reader’s language, with a link that stops the mail', async () => {
    expect((await w.as.fay!.call('PUT', '/notifications/settings', { email: 'immediate' })).body).toEqual({
      email: 'immediate',
    });
    const thread = await w.as.fay!.call('POST', '/groups/notes/threads', {
      title: 'Question',
      body: 'Bonjour',
    });
    await settle();
    await w.as.max!.call('POST', `/threads/${thread.body.id}/replies`, { body: 'Answer' });
    await settle();
    const mail = await smtp.waitFor('fay@dept.example');
    expect(mail.subject).toBe('Nouvelle activité sur Ensemble');
    expect(mail.text).toContain('a répondu à votre message dans Notes');
    // The link opens the thread in the web client.
    const open = /(http:\/\/\S+\/groups\/[a-z0-9-]+\/threads\/[0-9a-f]{24})/.exec(mail.text)?.[1];
    expect(open).toBe(`${w.node.url}/groups/${thread.body.group}/threads/${thread.body.id}`);
    expect((await fetch(open!)).headers.get('content-type')).toMatch(/text\/html/);
    const link = /(http:\/\/\S+\/mail\/unsubscribe\?u=[0-9a-f]{24}&t=[\w-]+)/.exec(mail.text)![1]!;

    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    expect((await w.as.fay!.call('GET', '/notifications/settings')).body.email).toBe('immediate'); // GET changes nothing
    expect((await fetch(link, { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status).toBe(200);
    expect((await w.as.fay!.call('GET', '/notifications/settings')).body.email).toBe('none');
    expect((await fetch(link.replace(/t=[\w-]+/, 't=forged'), { method: 'POST' })).status).toBe(400);

    // A daily digest: once a day, only with something new, never empty.
    await w.as.max!.call('PUT', '/notifications/settings', { email: 'daily' });
    const mailsTo = (to: string) => smtp.messages.filter((m) => m.to.includes(to)).length;
    const day = new Date('2030-01-02T08:00:00Z');
    await w.node.node.notificationMail.sweepDigests(day);
    const first = mailsTo('max@dept.example');
    await w.as.owen!.call('POST', '/groups/notes/threads', { title: 'For max', body: '@max have a look' });
    await settle();
    await w.node.node.notificationMail.sweepDigests(new Date('2030-01-03T08:00:00Z'));
    expect(mailsTo('max@dept.example')).toBe(first + 1);
    expect(smtp.messages.filter((m) => m.to.includes('max@dept.example')).at(-1)!.subject).toMatch(
      /^Your Ensemble digest: \d+ notification/,
    );
    await w.node.node.notificationMail.sweepDigests(new Date('2030-01-03T09:00:00Z')); // same day
    await w.node.node.notificationMail.sweepDigests(new Date('2030-01-04T08:00:00Z')); // nothing new
    expect(mailsTo('max@dept.example')).toBe(first + 1);
  });

  it(`fans out to a large group in batches of ${FANOUT_BATCH}, once per person`, async () => {
    const group = await db().collection('groups').findOne({ handle: 'notes' });
    const people = await insertFollowers(db(), group!._id, FANOUT_BATCH + 150);
    const posted = await w.as.owen!.call('POST', '/groups/notes/threads', {
      title: 'All hands',
      body: 'Meeting at ten',
    });
    expect(posted.status).toBe(201);
    await settle();
    const written = await db()
      .collection('notifications')
      .find({ threadId: new ObjectId(posted.body.id as string) })
      .toArray();
    const recipients = new Set(written.map((n) => (n.userId as ObjectId).toHexString()));
    for (const p of people) expect(recipients.has(p._id.toHexString())).toBe(true);
    expect(written.length).toBe(recipients.size); // once per person
    expect(recipients.has((await userId('owen')).toHexString())).toBe(false);
  });

  it('hides what a person removed from a members-only group was told of it: list, unread count and mail', async () => {
    await w.as.owen!.call('POST', '/groups/inner/invitations', { person: 'mia' });
    expect((await w.as.mia!.call('POST', '/groups/inner/invitation/accept')).status).toBe(204);
    await w.as.mia!.call('PUT', '/notifications/settings', { email: 'daily' });
    await w.node.node.notificationMail.sweepDigests(new Date('2031-01-01T08:00:00Z')); // mail what came before
    await w.as.mia!.call('POST', '/notifications/read', { all: true });
    const mailsToMia = () => smtp.messages.filter((m) => m.to.includes('mia@dept.example'));
    const mailed = mailsToMia().length;

    await w.as.owen!.call('POST', '/groups/inner/threads', { title: 'Reorg', body: '@mia draft attached' });
    await settle();
    expect((await list('mia')).items[0]).toMatchObject({ kind: 'mention', group: 'inner' });
    expect((await list('mia')).unread).toBe(1);

    expect((await w.as.owen!.call('DELETE', '/groups/inner/members/mia')).status).toBe(204);
    const after = await list('mia');
    expect(after.items.map((i) => i.group)).not.toContain('inner');
    expect(after.unread).toBe(0);
    await w.node.node.notificationMail.sweepDigests(new Date('2031-01-02T08:00:00Z'));
    expect(mailsToMia().length).toBe(mailed); // nothing left to tell her, so no mail at all
  });

  it('sends a digest that failed at the next sweep, and never twice', async () => {
    await w.as.max!.call('PUT', '/notifications/settings', { email: 'daily' });
    await w.node.node.notificationMail.sweepDigests(new Date('2031-02-01T08:00:00Z'));
    const mailsToMax = () => smtp.messages.filter((m) => m.to.includes('max@dept.example'));
    const before = mailsToMax().length;
    await w.as.owen!.call('POST', '/groups/notes/threads', { title: 'Offsite', body: '@max can you book?' });
    await settle();

    // The head hint lags (a hint write was lost): the digest still goes out.
    await db()
      .collection('sequence_hints')
      .updateOne(
        { _id: `notifications:${(await userId('max')).toHexString()}` as never },
        { $inc: { n: -1 } },
      );
    await smtp.stop(); // the mail server is down for the next sweep
    expect(await w.node.node.notificationMail.sweepDigests(new Date('2031-02-02T08:00:00Z'))).toBe(0);
    await smtp.start(smtpPort);
    expect(await w.node.node.notificationMail.sweepDigests(new Date('2031-02-02T09:00:00Z'))).toBe(1);
    expect(await w.node.node.notificationMail.sweepDigests(new Date('2031-02-02T10:00:00Z'))).toBe(0);
    expect(mailsToMax().length).toBe(before + 1);
    expect(mailsToMax().at(-1)!.text).toContain('mentioned you in Notes');
  });

  it('mails a person once when several mail jobs for them run at the same time', async () => {
    await w.as.otto!.call('PUT', '/notifications/settings', { email: 'none' });
    await w.as.owen!.call('POST', '/groups/notes/threads', { title: 'Parking', body: '@otto your permit' });
    await settle();
    await w.as.otto!.call('PUT', '/notifications/settings', { email: 'immediate' });
    const mailsToOtto = () => smtp.messages.filter((m) => m.to.includes('otto@dept.example')).length;
    const before = mailsToOtto();
    // Two mail runs for him at the same moment (two jobs, or two processes), each reading the same progress.
    const mail = w.node.node.notificationMail as unknown as {
      sendPending(userId: ObjectId, mode: 'immediate'): Promise<string>;
    };
    const otto = await userId('otto');
    const outcomes = await Promise.all([
      mail.sendPending(otto, 'immediate'),
      mail.sendPending(otto, 'immediate'),
    ]);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    expect(mailsToOtto()).toBe(before + 1);
  });

  it('keeps a person’s choices when notifications are written for them at the same moment', async () => {
    // FerretDB writes an update back as a whole document: the fan-out's bookkeeping and the person's own
    // choices live in different documents, so neither can undo the other.
    const repo = new NotificationRepository(db());
    const mia = await userId('mia');
    await w.as.mia!.call('PUT', '/groups/notes/subscription', { level: 'default' });
    await w.as.owen!.call('POST', '/groups/notes/threads', { title: 'Ping', body: '@mia ping' });
    await settle();
    await w.as.mia!.call('PUT', '/notifications/settings', { email: 'daily' });
    // Notifications for her are written all the while she changes her settings.
    const notes = (await db().collection('groups').findOne({ handle: 'notes' }))!._id as ObjectId;
    const whileWriting = async (action: () => Promise<unknown>) => {
      let writing = true;
      const writer = async () => {
        while (writing) {
          const n = await repo.notifications.append(
            mia.toHexString(),
            await repo.headHint(mia.toHexString()),
            (n, _id) => ({
              _id,
              n,
              userId: mia,
              kind: 'mention',
              groupId: notes,
              threadId: null,
              replyId: null,
              actorId: null,
              createdAt: new Date(),
              readAt: null,
            }),
          );
          await repo.recordHead(mia.toHexString(), n);
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      await action();
      writing = false;
      await Promise.all(writers);
    };
    await whileWriting(() => w.as.mia!.call('PUT', '/notifications/settings', { email: 'none' }));
    const before = await repo.head(mia.toHexString());
    await whileWriting(() => w.as.mia!.call('POST', '/notifications/read', { all: true }));
    expect((await w.as.mia!.call('GET', '/notifications/settings')).body.email).toBe('none');
    expect((await repo.stateOf(mia)).readUpTo).toBeGreaterThanOrEqual(before);
  });
});
