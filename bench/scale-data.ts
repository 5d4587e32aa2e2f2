// A department's data for bench:scale, written as Ensemble's services write it (the same documents, keys,
// positions and tokens), computed in memory and inserted in large batches: posting a million replies through
// the API would take hours. Deterministic, so two runs hold the same department.
import { ObjectId, type Db, type Document } from 'mongodb';
import { renderMarkdown } from '../server/core/html.js';
import { postTokens, searchTokens } from '../server/core/search-tokens.js';
import { collections } from '../server/db/collections.js';
import { membershipId } from '../server/groups/group.repository.js';
import { defaultVisibility } from '../server/people/profile.schemas.js';

export interface DepartmentSize {
  people: number;
  organizations: number;
  groups: number;
  membersPerGroup: number;
  threadsPerGroup: number;
  repliesPerGroup: number;
  filesPerGroup: number;
  notificationsPerPerson: number;
}

/** What the benchmark reads: typical items of the department, the same in a small one and a large one. */
export interface Department {
  /** Groups the bench person belongs to (public, of typical size). */
  groups: string[];
  /** A person in the same groups as the bench person, and their organization. */
  person: string;
  organization: string;
  /** A word found in a fixed number of posts, whatever the size. */
  rareWord: string;
  documents: number;
}

const FIRST = [
  'Ana',
  'Bruno',
  'Chloé',
  'Daniel',
  'Élise',
  'Farid',
  'Gabrielle',
  'Hugo',
  'Inès',
  'Jacob',
  'Karine',
  'Liam',
  'Maëlle',
  'Noah',
  'Océane',
  'Patrick',
  'Quynh',
  'Raphaël',
  'Sophie',
  'Thomas',
];
const LAST = [
  'Côté',
  'Tremblay',
  'Gagnon',
  'Roy',
  'Bouchard',
  'Gauthier',
  'Morin',
  'Lavoie',
  'Fortin',
  'Smith',
  'Nguyen',
  'Singh',
  'Brown',
  'Wilson',
  'Lee',
  'Martin',
  'Pelletier',
  'Bélanger',
  'Lévesque',
  'Girard',
];
const SKILLS = [
  'policy analysis',
  'data science',
  'procurement',
  'accessibility',
  'translation',
  'privacy',
  'security',
  'user research',
  'finance',
  'communications',
];
const TOPICS = [
  'budget',
  'open data',
  'hiring',
  'accessibility',
  'procurement',
  'security review',
  'service design',
  'translation',
  'privacy impact',
  'cloud migration',
];
const SENTENCES = [
  'We reviewed the draft with the regional offices and gathered their comments on the timelines.',
  'The working group agreed to publish the dataset once the privacy review is complete.',
  'Nous avons présenté les résultats préliminaires au comité de direction la semaine dernière.',
  'Please add your comments to the shared document before Friday so we can consolidate them.',
  'Les équipes régionales demandent un délai supplémentaire pour valider les données.',
  'The procurement strategy needs sign-off from finance before we can issue the request.',
  'Accessibility testing found three issues with the forms; fixes are scheduled for the next sprint.',
  "L'analyse des coûts montre une économie possible de quinze pour cent sur trois ans.",
  'We should align the glossary with the terminology used by the other departments.',
  'The pilot ran in two regions and the feedback from staff was largely positive.',
  'Il faudrait clarifier les rôles et responsabilités avant la prochaine étape.',
  'Can someone from security confirm the classification of these documents?',
];

/** A small deterministic generator. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Bodies of two or three paragraphs, rendered once and reused. */
function bodies(count: number, rnd: () => number) {
  return Array.from({ length: count }, () => {
    const paragraphs = Array.from({ length: 2 + Math.floor(rnd() * 2) }, () =>
      Array.from(
        { length: 3 + Math.floor(rnd() * 3) },
        () => SENTENCES[Math.floor(rnd() * SENTENCES.length)],
      ).join(' '),
    );
    const markdown = paragraphs.join('\n\n');
    return { markdown, html: renderMarkdown(markdown) };
  });
}

/** Documents per collection, inserted in batches as they are made, two batches in flight at most. */
class Writer {
  private readonly pending = new Map<string, Document[]>();
  private readonly inFlight = new Set<Promise<void>>();
  written = 0;
  /** Milliseconds spent inserting, per collection. */
  readonly timings = new Map<string, number>();
  constructor(
    private readonly db: Db,
    private readonly batch = 5_000,
  ) {}
  async add(collection: string, doc: Document): Promise<void> {
    let list = this.pending.get(collection);
    if (!list) this.pending.set(collection, (list = []));
    list.push(doc);
    if (list.length >= this.batch) await this.flush(collection);
  }
  async flush(collection?: string): Promise<void> {
    for (const name of collection ? [collection] : [...this.pending.keys()]) {
      const list = this.pending.get(name);
      if (!list?.length) continue;
      this.pending.set(name, []);
      while (this.inFlight.size >= 2) await Promise.race(this.inFlight);
      const started = performance.now();
      const insert = this.db
        .collection(name)
        .insertMany(list, { ordered: false })
        .then(() => {
          this.written += list.length;
          this.timings.set(name, (this.timings.get(name) ?? 0) + performance.now() - started);
        })
        .finally(() => this.inFlight.delete(insert));
      this.inFlight.add(insert);
    }
    if (!collection) await Promise.all(this.inFlight);
  }
}

/**
 * Write a department of `size` into `db`, around the signed-in bench person (`benchId`): they belong to the
 * first ten groups and have their notifications like everyone else.
 */
export async function generateDepartment(
  db: Db,
  size: DepartmentSize,
  benchId: ObjectId,
): Promise<Department> {
  const rnd = random(42);
  const w = new Writer(db);
  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
  const pool = bodies(200, rnd);
  const poolTokens = pool.map((b) => postTokens(null, b.markdown));

  const orgIds = Array.from({ length: size.organizations }, () => new ObjectId());
  for (const [i, _id] of orgIds.entries())
    await w.add(collections.organizations, {
      _id,
      slug: `org-${i}`,
      name: { en: `Organization ${i}`, fr: `Organisation ${i}` },
      acronym: { en: `O${i}`, fr: `O${i}` },
      emailDomains: [],
      claimValues: [`org-${i}`],
      createdAt: at(100_000),
      updatedAt: at(100_000),
    });

  const people = Array.from({ length: size.people }, () => new ObjectId());
  people[0] = benchId; // the bench person is person 0 (signed in already; not written again)
  for (let i = 1; i < size.people; i++) {
    const name = `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]}`;
    const skills = [SKILLS[i % SKILLS.length]!, SKILLS[(i * 7) % SKILLS.length]!];
    await w.add(collections.users, {
      _id: people[i],
      handle: `p${i}`,
      status: 'active',
      email: `p${i}@dept.example`,
      emailVerified: true,
      locale: i % 3 ? 'en' : 'fr',
      claimsName: name,
      organizationId: orgIds[i % orgIds.length],
      isAdmin: false,
      profile: { displayName: name, skills, jobTitle: { en: 'Analyst', fr: 'Analyste' } },
      visibility: defaultVisibility,
      avatar: null,
      searchTokens: searchTokens(name, `p${i}`, ...skills, 'Analyst', 'Analyste'),
      createdAt: at(90_000 - i),
      updatedAt: at(90_000 - i),
      lastSignInAt: at(i % 50_000),
    });
  }

  const groupIds = Array.from({ length: size.groups }, () => new ObjectId());
  const visibilityOf = (g: number) => (g < 10 || g % 10 < 8 ? 'public' : g % 10 === 8 ? 'node' : 'members');
  const rareEvery = Math.max(1, Math.floor((size.groups * size.threadsPerGroup) / 20)); // 20 posts hold it
  let post = 0;
  for (const [g, groupId] of groupIds.entries()) {
    const handle = `g${g}`;
    const name = `${TOPICS[g % TOPICS.length]} ${g}`;
    const audience = visibilityOf(g);
    await w.add(collections.groups, {
      _id: groupId,
      handle,
      name,
      description: { en: { markdown: `About ${name}.`, html: `<p>About ${name}.</p>\n` } },
      visibility: audience,
      joinPolicy: 'open',
      welcomeMessage: null,
      memberCount: size.membersPerGroup,
      createdBy: people[g % people.length],
      createdAt: at(80_000),
      updatedAt: at(80_000),
      deletedAt: null,
      deletedBy: null,
      searchTokens: searchTokens(name, handle),
    });
    await w.add(collections.groupHandles, { _id: handle, groupId });

    // Members: the bench person in the first ten groups; others spread over the department.
    const members: ObjectId[] = [];
    const seen = new Set<number>();
    if (g < 10) {
      members.push(benchId);
      seen.add(0);
    }
    for (let k = 0; members.length < size.membersPerGroup; k++) {
      const p = 1 + ((g * 7919 + k * 104_729) % (size.people - 1));
      if (seen.has(p)) continue;
      seen.add(p);
      members.push(people[p]!);
    }
    for (const [k, userId] of members.entries())
      await w.add(collections.memberships, {
        _id: membershipId(groupId, userId),
        groupId,
        userId,
        role: k === 1 ? 'owner' : k < 4 ? 'moderator' : 'member',
        state: 'active',
        invitedBy: null,
        createdAt: at(70_000 - k),
        updatedAt: at(70_000 - k),
      });

    // Threads and replies, with the group's timeline as ThreadService writes it (bench/thread-data.ts).
    const T = size.threadsPerGroup;
    const threadIds = Array.from({ length: T }, () => new ObjectId());
    const current = new Int32Array(T);
    const replyCount = new Int32Array(T);
    const lastActivity = new Float64Array(T);
    const slots: { thread: number; dead: boolean; skip: number | null }[] = [];
    const bump = (thread: number, when: number) => {
      slots.push({ thread, dead: false, skip: null });
      const n = slots.length;
      const previous = current[thread]!;
      if (previous) {
        let bottom = previous;
        for (let p = previous - 1, hops = 0; p >= 1 && hops < 16 && slots[p - 1]!.dead; hops++) {
          bottom = slots[p - 1]!.skip!;
          p = bottom - 1;
        }
        slots[previous - 1] = { ...slots[previous - 1]!, dead: true, skip: bottom };
      }
      current[thread] = n;
      lastActivity[thread] = when;
    };
    const start = now - 60 * 86_400_000 + g * 1000;
    const threadBody: number[] = [];
    for (let t = 0; t < T; t++) {
      bump(t, start + t * 3_600_000);
      threadBody.push(Math.floor(rnd() * pool.length));
    }
    const replies: { thread: number; seq: number; body: number; when: number }[] = [];
    for (let r = 0; r < size.repliesPerGroup; r++) {
      const thread = Math.floor(rnd() * T);
      const when = start + T * 3_600_000 + r * 600_000;
      replies.push({ thread, seq: ++replyCount[thread]!, body: Math.floor(rnd() * pool.length), when });
      bump(thread, when);
    }
    const author = (i: number) => members[(i * 31) % members.length]!;
    for (let t = 0; t < T; t++) {
      const rare = post++ % rareEvery === 0;
      const title = `${TOPICS[(g + t) % TOPICS.length]} — item ${t}${rare ? ' zephyrcode' : ''}`;
      await w.add(collections.threads, {
        _id: threadIds[t],
        groupId,
        authorId: author(t),
        body: pool[threadBody[t]!],
        mentions: [],
        likeCount: 0,
        audience,
        createdAt: new Date(start + t * 3_600_000),
        editedAt: null,
        deleted: null,
        searchTokens: [...new Set([...searchTokens(title), ...poolTokens[threadBody[t]!]!])],
        attachments: [],
        title,
        pinned: false,
        locked: false,
        replyCount: replyCount[t],
        lastActivityAt: new Date(lastActivity[t]!),
        timelineSlot: current[t],
      });
    }
    for (const [i, r] of replies.entries()) {
      const _id = new ObjectId();
      const threadId = threadIds[r.thread]!;
      await w.add(collections.replies, {
        _id,
        groupId,
        authorId: author(i + 7),
        body: pool[r.body],
        mentions: [],
        likeCount: 0,
        audience,
        createdAt: new Date(r.when),
        editedAt: null,
        deleted: null,
        searchTokens: poolTokens[r.body],
        attachments: [],
        threadId,
        parentId: null,
        depth: 1,
        seq: r.seq,
        pos: `${threadId.toHexString()}:${r.seq}`,
      });
    }
    for (const [i, s] of slots.entries())
      await w.add(collections.threadTimeline, {
        _id: `${groupId.toHexString()}:${i + 1}`,
        n: i + 1,
        groupId,
        threadId: threadIds[s.thread],
        dead: s.dead,
        skip: s.dead ? s.skip : null,
      });
    await w.add(collections.sequenceHints, { _id: `timeline:${groupId.toHexString()}`, n: slots.length });

    // The library: files (metadata and versions; the bytes are not read by these pages), two folders.
    const folders = [new ObjectId(), new ObjectId()];
    for (const [i, _id] of folders.entries())
      await w.add(collections.folders, {
        _id,
        groupId,
        parentId: null,
        name: `Folder ${i}`,
        createdBy: members[1],
        createdAt: at(5000),
      });
    for (let f = 0; f < size.filesPerGroup; f++) {
      const _id = new ObjectId();
      // Topics vary by group and uploads happen over the group's life, as its threads do (every group's
      // `budget` file at the same minute made a newest-first search walk all the others first).
      const name = `${TOPICS[(g + f) % TOPICS.length]!.replace(' ', '-')}-${f}.pdf`;
      await w.add(collections.files, {
        _id,
        groupId,
        folderId: f % 4 === 0 ? folders[f % 2] : null,
        kind: 'library',
        attachedTo: null,
        name,
        version: 1,
        size: 120_000,
        contentType: 'application/pdf',
        sha256: '0'.repeat(64),
        createdBy: members[f % members.length],
        createdAt: new Date(start + f * 3 * 3_600_000),
        updatedAt: new Date(start + f * 3 * 3_600_000),
        deletedAt: null,
        deletedBy: null,
        audience,
        searchTokens: searchTokens(name),
      });
      await w.add(collections.fileVersions, {
        _id: `${_id.toHexString()}:1`,
        fileId: _id,
        groupId,
        n: 1,
        blobId: new ObjectId(),
        name,
        size: 120_000,
        sha256: '0'.repeat(64),
        contentType: 'application/pdf',
        uploadedBy: members[f % members.length],
        uploadedAt: at(4000 - f),
        thumbnail: null,
      });
    }
    await w.add(collections.groupStorage, { _id: groupId, bytes: size.filesPerGroup * 120_000 });
    for (let r = 0; r < 3; r++)
      await w.add(collections.reports, {
        _id: new ObjectId(),
        groupId,
        targetId: threadIds[r],
        targetKind: 'thread',
        reporterId: members[5 + r],
        reason: 'Please check this.',
        state: 'open',
        createdAt: at(100 - r),
        resolvedAt: null,
        resolvedBy: null,
        note: null,
      });
    for (let a = 0; a < 20; a++)
      await w.add(collections.groupAudit, {
        _id: new ObjectId(),
        groupId,
        at: at(3000 - a),
        actorId: members[1],
        action: 'member.joined',
        targetUserId: members[a % members.length],
        detail: {},
      });
  }

  // Notifications: each person's newest first by `_id` (`<person>:<n>`).
  for (const [p, userId] of people.entries()) {
    const hex = userId.toHexString();
    for (let n = 1; n <= size.notificationsPerPerson; n++) {
      const g = (p + n) % size.groups;
      await w.add(collections.notifications, {
        _id: `${hex}:${n}`,
        n,
        userId,
        kind: 'reply',
        groupId: groupIds[g],
        threadId: null,
        replyId: null,
        actorId: people[(p + n * 13) % people.length],
        createdAt: at(size.notificationsPerPerson - n),
        readAt: null,
      });
    }
    await w.add(collections.sequenceHints, { _id: `notifications:${hex}`, n: size.notificationsPerPerson });
  }
  await w.flush();
  if (process.env.BENCH_VERBOSE)
    process.stdout.write(
      `${JSON.stringify(Object.fromEntries([...w.timings].map(([k, v]) => [k, Math.round(v)])))}\n`,
    );
  return {
    groups: Array.from({ length: 10 }, (_, g) => `g${g}`),
    person: 'p2',
    organization: `org-${2 % size.organizations}`,
    rareWord: 'zephyrcode',
    documents: w.written,
  };
}
