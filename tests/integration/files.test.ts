import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { abortedUpload, download, eventually, filesForm, storedCounts } from '../helpers/files.js';
import { createPublicGroup } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

describe('group file libraries, attachments and downloads', () => {
  let w: World;
  const db = () => w.node.database.db;
  /** mia uploads a small text file to the `lib` library; its id. */
  const uploadText = async (name: string, text: string) => {
    const up = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([{ bytes: Buffer.from(text), name }]),
    );
    expect(up.status).toBe(201);
    return up.body[0].id as string;
  };

  beforeAll(async () => {
    w = await startWorld(['owen', 'mia', 'max', 'otto'], {
      FILE_MAX_SIZE: '4mb',
      FILE_MAX_COUNT: '3',
      FILE_MAX_FIELDS: '2',
      GROUP_STORAGE_QUOTA: '10mb',
    });
    for (const [handle, visibility] of [
      ['lib', 'public'],
      ['node-lib', 'node'],
      ['secret-lib', 'members'],
      ['quota', 'public'],
    ] as const) {
      const made = await w.as.owen!.call('POST', '/groups', {
        handle,
        name: handle,
        visibility,
        joinPolicy: 'open',
      });
      expect(made.status).toBe(201);
    }
    for (const group of ['lib', 'node-lib'])
      expect((await w.as.mia!.call('POST', `/groups/${group}/join`)).status).toBe(200);
    expect((await w.as.max!.call('POST', '/groups/lib/join')).status).toBe(200);
    expect((await w.as.owen!.call('PUT', '/groups/lib/members/max/role', { role: 'moderator' })).status).toBe(
      204,
    );
  });
  afterAll(() => w.close());

  it('streams a file larger than any buffer into GridFS and gives the same bytes back', async () => {
    const bytes = randomBytes(3 * MiB + 12_345);
    const res = await w.as.mia!.call('POST', '/groups/lib/files', filesForm([{ bytes, name: 'survey.bin' }]));
    expect(res.status).toBe(201);
    expect(res.body[0]).toMatchObject({
      name: 'survey.bin',
      size: bytes.length,
      sha256: sha256(bytes),
      version: 1,
    });
    expect(res.body[0].contentType).toBe('application/octet-stream');
    const chunks = await db().collection('blobs.chunks').countDocuments();
    expect(chunks).toBeGreaterThanOrEqual(Math.ceil(bytes.length / (255 * 1024)));
    const got = await download(w.anonymous, `/files/${res.body[0].id}/content`);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(sha256(bytes));
    expect(got.headers.get('content-disposition')).toBe('attachment; filename="survey.bin"');
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps earlier versions when content is replaced, each downloadable', async () => {
    const v1 = Buffer.from('first draft of the memo\n');
    const v2 = Buffer.from('second draft of the memo, reviewed\n');
    const up = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([{ bytes: v1, name: 'memo.txt' }]),
    );
    const id = up.body[0].id as string;
    expect(up.body[0].contentType).toBe('text/plain');
    expect(
      (await w.as.otto!.call('POST', `/files/${id}/versions`, filesForm([{ bytes: v2, name: 'x' }], 'file')))
        .status,
    ).toBe(403);
    const replaced = await w.as.mia!.call(
      'POST',
      `/files/${id}/versions`,
      filesForm([{ bytes: v2, name: 'memo-v2.txt' }], 'file'),
    );
    expect(replaced.status).toBe(201);
    expect(replaced.body).toMatchObject({ version: 2, size: v2.length, sha256: sha256(v2) });
    const detail = await w.anonymous.call('GET', `/files/${id}`);
    expect(detail.body.versions.map((v: { n: number }) => v.n)).toEqual([2, 1]);
    expect((await download(w.anonymous, `/files/${id}/content`)).bytes).toEqual(v2);
    expect((await download(w.anonymous, `/files/${id}/content?version=1`)).bytes).toEqual(v1);
    expect((await download(w.anonymous, `/files/${id}/content?version=3`)).status).toBe(404);
  });

  it('shows the newest version after replacements at the same moment, and lists every one', async () => {
    const id = await uploadText('plan.txt', 'v1\n');
    const replaced = await Promise.all(
      Array.from({ length: 11 }, (_, k) => k + 2).map((i) =>
        w.as.mia!.call(
          'POST',
          `/files/${id}/versions`,
          filesForm([{ bytes: Buffer.from(`v${i} of the plan\n`), name: 'plan.txt' }], 'file'),
        ),
      ),
    );
    expect(replaced.every((r) => r.status === 201)).toBe(true);
    const detail = await w.anonymous.call('GET', `/files/${id}`);
    expect(detail.body.version).toBe(12);
    expect(detail.body.versions.map((v: { n: number }) => v.n)).toEqual(
      Array.from({ length: 12 }, (_, k) => 12 - k),
    );
    const newest = replaced.find((r) => r.body.version === 12)!;
    expect((await download(w.anonymous, `/files/${id}/content`)).bytes.toString()).toBe(
      (await download(w.anonymous, `/files/${id}/content?version=12`)).bytes.toString(),
    );
    expect(newest.body.sha256).toBe(detail.body.sha256);
  });

  it('answers ranges, conditional requests and out-of-range requests as HTTP says', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const up = await w.as.mia!.call('POST', '/groups/lib/files', filesForm([{ bytes, name: 'range.bin' }]));
    const path = `/files/${up.body[0].id}/content`;
    const full = await download(w.anonymous, path);
    const etag = full.headers.get('etag')!;
    const lastModified = full.headers.get('last-modified')!;
    expect(etag).toBe(`"${sha256(bytes)}"`);
    expect(full.headers.get('accept-ranges')).toBe('bytes');

    const part = await download(w.anonymous, path, { range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(part.bytes).toEqual(bytes.subarray(10, 20));
    const tail = await download(w.anonymous, path, { range: 'bytes=-5' });
    expect(tail.bytes).toEqual(bytes.subarray(995));
    // A resumed download whose file changed meanwhile gets the whole file.
    expect((await download(w.anonymous, path, { range: 'bytes=10-19', 'if-range': '"other"' })).status).toBe(
      200,
    );
    expect((await download(w.anonymous, path, { range: 'bytes=10-19', 'if-range': etag })).status).toBe(206);

    const outside = await download(w.anonymous, path, { range: 'bytes=5000-6000' });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe('bytes */1000');
    expect(outside.headers.get('content-type')).toContain('application/problem+json');

    expect((await download(w.anonymous, path, { 'if-none-match': etag })).status).toBe(304);
    expect((await download(w.anonymous, path, { 'if-modified-since': lastModified })).status).toBe(304);
  });

  it('refuses oversized files, too many files or fields, and executables dressed as images, storing nothing', async () => {
    const before = await storedCounts(db());
    const big = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([{ bytes: randomBytes(4 * MiB + 1), name: 'big.bin' }]),
    );
    expect(big.status).toBe(413);
    expect(big.type).toContain('application/problem+json');
    expect(big.body.errors[0].field).toBe('body.files');

    const four = filesForm(
      Array.from({ length: 4 }, (_, i) => ({ bytes: Buffer.from(`file ${i}`), name: `f${i}.txt` })),
    );
    expect((await w.as.mia!.call('POST', '/groups/lib/files', four)).status).toBe(400);
    const fields = filesForm([{ bytes: Buffer.from('x'), name: 'x.txt' }]);
    for (const k of ['a', 'b', 'c']) fields.append(k, 'v');
    expect((await w.as.mia!.call('POST', '/groups/lib/files', fields)).status).toBe(400);

    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(5000, 0x90)]);
    const disguised = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([{ bytes: exe, name: 'photo.png', type: 'image/png' }]),
    );
    expect(disguised.status).toBe(415);
    expect(disguised.body.detail).toContain('application/x-msdownload');
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(100)]);
    expect(
      (await w.as.mia!.call('POST', '/groups/lib/files', filesForm([{ bytes: elf, name: 'tool' }]))).status,
    ).toBe(415);

    expect((await w.as.mia!.call('POST', '/groups/lib/files', { not: 'multipart' })).status).toBe(415);
    expect((await w.as.mia!.call('POST', '/groups/lib/files', new FormData())).status).toBe(400);
    expect(
      await eventually(
        () => storedCounts(db()),
        (c) => JSON.stringify(c) === JSON.stringify(before),
      ),
    ).toEqual(before);
  });

  it('stores path tricks and control characters under a safe name', async () => {
    const up = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([
        { bytes: Buffer.from('a'), name: '../../etc/passwd' },
        { bytes: Buffer.from('b'), name: '..\\..\\windows\\win.ini' },
        { bytes: Buffer.from('c'), name: 'CON.txt' },
      ]),
    );
    expect(up.status).toBe(201);
    expect(up.body.map((f: { name: string }) => f.name)).toEqual(['passwd', 'win.ini', '_CON.txt']);
    const accented = await w.as.mia!.call(
      'POST',
      '/groups/lib/files',
      filesForm([{ bytes: Buffer.from('cv'), name: 'résumé été.pdf' }]),
    );
    expect(accented.body[0].name).toBe('résumé été.pdf');
    const got = await download(w.anonymous, `/files/${up.body[0].id}/content`);
    expect(got.headers.get('content-disposition')).toBe('attachment; filename="passwd"');

    // A NUL byte cannot travel raw in a part header (the parser refuses it, 400); encoded (RFC 5987) it
    // reaches the server, which drops it and the other control characters.
    const boundary = 'x-nul-test';
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename*=UTF-8''report%00.pdf%07\r\n` +
        `Content-Type: application/pdf\r\n\r\nplain text\r\n--${boundary}--\r\n`,
    );
    const encoded = await w.as.mia!.browser.request(`${w.node.url}/api/v1/groups/lib/files`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'x-csrf-token': await w.as.mia!.token(),
      },
      body,
    });
    expect(encoded.status).toBe(201);
    expect(((await encoded.json()) as { name: string }[])[0]!.name).toBe('report.pdf');
    const raw = filesForm([{ bytes: Buffer.from('d'), name: 'bad\u0000name' }]);
    const refused = await w.as.mia!.call('POST', '/groups/lib/files', raw);
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('Malformed part header');
  });

  it('leaves nothing behind when the client goes away mid-upload', async () => {
    const before = await storedCounts(db());
    await abortedUpload(w.as.mia!, '/groups/lib/files', 1 * MiB);
    const after = await eventually(
      () => storedCounts(db()),
      (c) => JSON.stringify(c) === JSON.stringify(before),
    );
    expect(after).toEqual(before);
    // The node still serves.
    expect((await w.anonymous.call('GET', '/groups/lib/files')).status).toBe(200);
  });

  it('organises files in folders: create, move, rename; no cycles; only empty folders go', async () => {
    const reports = await w.as.mia!.call('POST', '/groups/lib/folders', { name: 'Reports' });
    expect(reports.status).toBe(201);
    const y2026 = await w.as.mia!.call('POST', '/groups/lib/folders', {
      name: '2026',
      parentId: reports.body.id,
    });
    const up = await w.as.mia!.call(
      'POST',
      `/groups/lib/files?folder=${y2026.body.id}`,
      filesForm([{ bytes: Buffer.from('q3'), name: 'q3.txt' }]),
    );
    expect(up.body[0].folderId).toBe(y2026.body.id);
    const inFolder = await w.anonymous.call('GET', `/groups/lib/files?folder=${y2026.body.id}`);
    expect(inFolder.body.files.map((f: { name: string }) => f.name)).toEqual(['q3.txt']);
    const root = await w.anonymous.call('GET', '/groups/lib/files');
    expect(root.body.folders.map((f: { name: string }) => f.name)).toEqual(['Reports']);
    expect(root.body.files.map((f: { name: string }) => f.name)).not.toContain('q3.txt');

    const moved = await w.as.mia!.call('PATCH', `/files/${up.body[0].id}`, {
      name: 'Q3 summary.txt',
      folderId: reports.body.id,
    });
    expect(moved.body).toMatchObject({ name: 'Q3 summary.txt', folderId: reports.body.id });
    const renamed = await download(w.anonymous, `/files/${up.body[0].id}/content`);
    expect(renamed.headers.get('content-disposition')).toBe('attachment; filename="Q3 summary.txt"');
    expect((await w.as.otto!.call('PATCH', `/files/${up.body[0].id}`, { name: 'mine' })).status).toBe(403);
    const cycle = await w.as.mia!.call('PATCH', `/folders/${reports.body.id}`, { parentId: y2026.body.id });
    expect(cycle.status).toBe(400);
    expect(cycle.body.errors[0].field).toBe('body.parentId');
    expect((await w.as.mia!.call('DELETE', `/folders/${reports.body.id}`)).status).toBe(409);
    expect((await w.as.mia!.call('DELETE', `/folders/${y2026.body.id}`)).status).toBe(204);
    const elsewhere = await w.as.owen!.call('POST', '/groups/quota/folders', { name: 'other' });
    expect(
      (await w.as.mia!.call('PATCH', `/files/${up.body[0].id}`, { folderId: elsewhere.body.id })).status,
    ).toBe(400);
  });

  it('pages a folder by name without duplicates or gaps', async () => {
    const folder = await w.as.mia!.call('POST', '/groups/lib/folders', { name: 'Paged' });
    const names = ['e.txt', 'a.txt', 'd.txt', 'b.txt', 'c.txt'];
    const up = await w.as.mia!.call(
      'POST',
      `/groups/lib/files?folder=${folder.body.id}`,
      filesForm(names.slice(0, 3).map((name) => ({ bytes: Buffer.from(name), name }))),
    );
    expect(up.status).toBe(201);
    await w.as.mia!.call(
      'POST',
      `/groups/lib/files?folder=${folder.body.id}`,
      filesForm(names.slice(3).map((name) => ({ bytes: Buffer.from(name), name }))),
    );
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 5; i++) {
      const page = await w.anonymous.call(
        'GET',
        `/groups/lib/files?folder=${folder.body.id}&limit=2${cursor}`,
      );
      seen.push(...page.body.files.map((f: { name: string }) => f.name));
      if (!page.body.nextCursor) break;
      cursor = `&cursor=${page.body.nextCursor}`;
    }
    expect(seen).toEqual(['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt']);
    expect((await w.anonymous.call('GET', `/groups/lib/files?cursor=${'0'.repeat(24)}`)).status).toBe(400);
  });

  it('soft-deletes and restores; moderators may, other members may not', async () => {
    const id = await uploadText('minutes.txt', 'minutes');
    expect((await w.as.otto!.call('DELETE', `/files/${id}`)).status).toBe(403);
    expect((await w.as.max!.call('DELETE', `/files/${id}`)).status).toBe(204);
    expect((await download(w.as.mia!, `/files/${id}/content`)).status).toBe(404);
    expect(
      (await w.anonymous.call('GET', '/groups/lib/files')).body.files.map((f: { id: string }) => f.id),
    ).not.toContain(id);
    const trash = await w.as.max!.call('GET', '/groups/lib/files?deleted=true');
    expect(trash.body.files.map((f: { id: string }) => f.id)).toContain(id);
    expect((await w.as.mia!.call('GET', '/groups/lib/files?deleted=true')).status).toBe(403);
    // max (a moderator) removed it: mia, the uploader, may not bring it back; a moderator may.
    expect((await w.as.mia!.call('POST', `/files/${id}/restore`)).status).toBe(403);
    expect((await w.as.max!.call('POST', `/files/${id}/restore`)).status).toBe(200);
    expect((await w.as.mia!.call('DELETE', `/files/${id}`)).status).toBe(204);
    expect((await w.as.mia!.call('POST', `/files/${id}/restore`)).status).toBe(200); // her own deletion
    expect((await download(w.anonymous, `/files/${id}/content`)).bytes.toString()).toBe('minutes');
  });

  it("follows the group's visibility on every download, listing and file page", async () => {
    const cases = [
      { group: 'lib', anonymous: 200, otto: 200, mia: 200 },
      { group: 'node-lib', anonymous: 404, otto: 200, mia: 200 },
      { group: 'secret-lib', anonymous: 404, otto: 404, mia: 404, owen: 200 },
    ];
    for (const c of cases) {
      const up = await w.as.owen!.call(
        'POST',
        `/groups/${c.group}/files`,
        filesForm([{ bytes: Buffer.from(c.group), name: `${c.group}.txt` }]),
      );
      expect(up.status).toBe(201);
      const id = up.body[0].id as string;
      const readers = { anonymous: w.anonymous, otto: w.as.otto!, mia: w.as.mia!, owen: w.as.owen! };
      for (const [who, expected] of Object.entries({ owen: 200, ...c }).filter(([k]) => k !== 'group')) {
        const client = readers[who as keyof typeof readers];
        const got = await download(client, `/files/${id}/content`);
        expect({ who, group: c.group, status: got.status }).toEqual({
          who,
          group: c.group,
          status: expected,
        });
        expect((await client.call('GET', `/files/${id}`)).status).toBe(expected);
        expect((await client.call('GET', `/groups/${c.group}/files`)).status).toBe(expected);
        if (expected === 404) expect(got.bytes.toString()).not.toContain(c.group + '.txt');
      }
    }
    const found = async (client: typeof w.anonymous) =>
      ((await client.call('GET', '/search/files?q=LIB%20txt')).body as { name: string }[])
        .map((f) => f.name)
        .sort();
    expect(await found(w.anonymous)).toEqual(['lib.txt']);
    expect(await found(w.as.otto!)).toEqual(['lib.txt', 'node-lib.txt']);
    expect(await found(w.as.owen!)).toEqual(['lib.txt', 'node-lib.txt', 'secret-lib.txt']);
  });

  it('attaches uploads to threads and replies, with thumbnails made in the background', async () => {
    const image = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const up = await w.as.mia!.call(
      'POST',
      '/groups/lib/attachments',
      filesForm([{ bytes: image, name: 'chart.png', type: 'image/png' }]),
    );
    expect(up.status).toBe(201);
    expect(up.body[0]).toMatchObject({ kind: 'attachment', contentType: 'image/png' });
    const fileId = up.body[0].id as string;
    expect(
      (
        await w.as.max!.call('POST', '/groups/lib/threads', {
          title: 'Not mine',
          body: 'x',
          attachments: [fileId],
        })
      ).status,
    ).toBe(400);
    const thread = await w.as.mia!.call('POST', '/groups/lib/threads', {
      title: 'Chart',
      body: 'See the chart',
      attachments: [fileId],
    });
    expect(thread.status).toBe(201);
    expect(thread.body.attachments).toEqual([
      expect.objectContaining({
        id: fileId,
        name: 'chart.png',
        contentType: 'image/png',
        thumbnailUrl: `/api/v1/files/${fileId}/thumbnail`,
      }),
    ]);
    // Attached once only.
    expect(
      (
        await w.as.mia!.call('POST', `/threads/${thread.body.id}/replies`, {
          body: 'again',
          attachments: [fileId],
        })
      ).status,
    ).toBe(400);

    await w.node.node.jobs.drain();
    const thumb = await download(w.anonymous, `/files/${fileId}/thumbnail`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(thumb.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([320, 213]);
    // Attachments are not library files.
    expect(
      (await w.anonymous.call('GET', '/groups/lib/files')).body.files.map((f: { id: string }) => f.id),
    ).not.toContain(fileId);

    expect((await w.as.mia!.call('DELETE', `/threads/${thread.body.id}`)).status).toBe(204);
    expect((await download(w.anonymous, `/files/${fileId}/content`)).status).toBe(404);
  });

  it("refuses uploads past the group's quota and keeps nothing of them", async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await w.as.owen!.call(
        'POST',
        '/groups/quota/files',
        filesForm([{ bytes: randomBytes(3 * MiB), name: `part${i}.bin` }]),
      );
      expect(ok.status).toBe(201);
    }
    const before = await storedCounts(db());
    const over = await w.as.owen!.call(
      'POST',
      '/groups/quota/files',
      filesForm([{ bytes: randomBytes(3 * MiB), name: 'part3.bin' }]),
    );
    expect(over.status).toBe(413);
    expect(over.body.type).toBe('/problems/quota-exceeded');
    expect(
      await eventually(
        () => storedCounts(db()),
        (c) => JSON.stringify(c) === JSON.stringify(before),
      ),
    ).toEqual(before);
    // Other groups have their own quota.
    expect(
      (
        await w.as.mia!.call(
          'POST',
          '/groups/lib/files',
          filesForm([{ bytes: randomBytes(MiB), name: 'fine.bin' }]),
        )
      ).status,
    ).toBe(201);
  });

  it('counts parallel uploads against the quota together: no more is kept than it allows', async () => {
    await createPublicGroup(w.as.owen!, 'rush');
    // Five uploads of 3 MiB at once into 10 MiB: each alone would fit, three together do.
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        w.as.owen!.call(
          'POST',
          '/groups/rush/files',
          filesForm([{ bytes: randomBytes(3 * MiB), name: `r${i}.bin` }]),
        ),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 413, 413]);
    const group = await db().collection('groups').findOne({ handle: 'rush' });
    expect((await db().collection('group_storage').findOne({ _id: group!._id }))?.bytes).toBe(9 * MiB);
    expect((await w.as.owen!.call('GET', '/groups/rush/files')).body.files).toHaveLength(3);
  });

  it('purges a deleted group with every file version, thumbnail and folder in it', async () => {
    expect(
      (
        await w.as.owen!.call('POST', '/groups', {
          handle: 'gone',
          name: 'gone',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    const image = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const up = await w.as.owen!.call(
      'POST',
      '/groups/gone/files',
      filesForm([
        { bytes: image, name: 'a.png' },
        { bytes: Buffer.from('b'), name: 'b.txt' },
      ]),
    );
    await w.as.owen!.call(
      'POST',
      `/files/${up.body[1].id}/versions`,
      filesForm([{ bytes: Buffer.from('b2'), name: 'b.txt' }], 'file'),
    );
    await w.as.owen!.call('POST', '/groups/gone/folders', { name: 'f' });
    await w.node.node.jobs.drain();
    const group = await db().collection('groups').findOne({ handle: 'gone' });
    const blobIds = (await db().collection('file_versions').find({ groupId: group!._id }).toArray()).map(
      (v) => v.blobId,
    );
    expect(blobIds).toHaveLength(3);
    const thumbs = { filename: { $regex: `^${up.body[0].id}` } };
    expect(await db().collection('thumbnails.files').countDocuments(thumbs)).toBe(1);
    expect((await w.as.owen!.call('DELETE', '/groups/gone')).status).toBe(204);
    expect((await download(w.as.owen!, `/files/${up.body[0].id}/content`)).status).toBe(404);
    expect(await w.node.node.purge.sweep(new Date(Date.now() + 31 * 86_400_000))).toEqual(['gone']);
    for (const [name, filter] of [
      ['files', { groupId: group!._id }],
      ['file_versions', { groupId: group!._id }],
      ['folders', { groupId: group!._id }],
      ['blobs.files', { _id: { $in: blobIds } }],
      ['blobs.chunks', { files_id: { $in: blobIds } }],
      ['group_storage', { _id: group!._id }],
    ] as const)
      expect({
        name,
        left: await db()
          .collection(name)
          .countDocuments(filter as never),
      }).toEqual({ name, left: 0 });
    expect(
      await db()
        .collection('thumbnails.files')
        .countDocuments({ filename: { $regex: `^${up.body[0].id}` } }),
    ).toBe(0);
  });
});
