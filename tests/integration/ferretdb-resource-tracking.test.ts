import { bothBuilds, describeBothBuilds, type PrivateFerretDB } from '../helpers/ferretdb.js';

/**
 * FerretDB tracks every iterator, cursor and SQL result it opens in a pprof profile of its own, recording the
 * caller's stack each time (14-17 % of its CPU for a find by `_id`). The project's build tracks them by
 * their finalizer alone, as upstream's leak check does (docs/adr/0040-ferretdb-resource-tracking.md).
 */
/** The profiles FerretDB's debug handler lists (pprof's index page). */
async function profiles(f: PrivateFerretDB): Promise<string[]> {
  const page = await (await fetch(`${f.server.debugUrl}/debug/pprof/`)).text();
  return [...page.matchAll(/href=['"]?([^'"?>]+)\?debug=1/g)].map((m) => decodeURIComponent(m[1]!));
}

/** Reads and writes that open iterators, cursors and SQL results. */
async function work(f: PrivateFerretDB): Promise<void> {
  const c = f.client.db('tracking').collection<{ _id: string; n: number }>('items');
  await c.insertMany(Array.from({ length: 50 }, (_, n) => ({ _id: `i${n}`, n })));
  for (let n = 0; n < 20; n++) await c.findOne({ _id: `i${n}` });
  expect(await c.find({ n: { $gte: 10 } }, { batchSize: 5 }).toArray()).toHaveLength(40);
  await c.updateOne({ _id: 'i1' }, { $set: { n: -1 } });
}

describeBothBuilds()("FerretDB's resource tracking", () => {
  const builds = bothBuilds();

  it('upstream records a stack in a profile for every object it opens', async () => {
    const { upstream } = builds;
    await work(upstream);
    expect((await profiles(upstream)).filter((p) => p.startsWith('FerretDB/'))).not.toEqual([]);
  });

  it('the project build keeps no such profile, and is still up after its finalizers run', async () => {
    const { patched } = builds;
    await work(patched);
    expect(await profiles(patched)).toContain('heap'); // the index is read
    expect((await profiles(patched)).filter((p) => p.startsWith('FerretDB/'))).toEqual([]);
    await patched.collectGarbage();
    await new Promise((r) => setTimeout(r, 500));
    await patched.collectGarbage();
    expect(await patched.client.db('tracking').command({ ping: 1 })).toMatchObject({ ok: 1 });
    expect(await patched.client.db('tracking').collection('items').countDocuments()).toBe(50);
  });
});
