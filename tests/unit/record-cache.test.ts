import { ALL_RECORDS, RecordCache, throughCache } from '../../server/cache/record.cache.js';

/** The records pages are built from, kept in a process (docs/adr/0034-record-cache.md). */
describe('RecordCache', () => {
  const cache = (maxBytes = 1000) => new RecordCache({ enabled: true, maxBytes });

  it('does not keep what a read found when the record changed while it was under way', () => {
    const c = cache();
    const ticket = c.ticket();
    c.invalidate(['thread:1']); // a write lands while the read is at the database
    c.set('thread:1', { title: 'old' }, 10, ticket);
    expect(c.get('thread:1')).toBeUndefined();
    // Another record read with the same ticket is kept; a read that starts after the change is kept.
    c.set('thread:2', { title: 'other' }, 10, ticket);
    expect(c.get('thread:2')).toEqual({ title: 'other' });
    c.set('thread:1', { title: 'new' }, 10, c.ticket());
    expect(c.get('thread:1')).toEqual({ title: 'new' });
  });

  it('drops a record when it changes, and everything on ALL_RECORDS', () => {
    const c = cache();
    c.set('group:1', 'g', 10, c.ticket());
    c.set('person:1', 'p', 10, c.ticket());
    c.invalidate(['group:1']);
    expect(c.get('group:1')).toBeUndefined();
    expect(c.get('person:1')).toBe('p');
    const ticket = c.ticket();
    c.invalidate([ALL_RECORDS]);
    expect(c.get('person:1')).toBeUndefined();
    c.set('person:1', 'stale', 10, ticket);
    expect(c.get('person:1')).toBeUndefined();
  });

  it('keeps at most its size, dropping the least recently read', () => {
    const c = cache(480);
    for (let n = 0; n < 16; n++) c.set(`thread:${n}`, n, 30, c.ticket());
    expect(c.stats()).toEqual({ records: 16, bytes: 480 });
    expect(c.get('thread:0')).toBe(0); // now the most recently read
    c.set('thread:16', 16, 30, c.ticket());
    expect(c.get('thread:1')).toBeUndefined();
    expect([0, 2, 16].map((n) => c.get(`thread:${n}`))).toEqual([0, 2, 16]);
    expect(c.stats()).toEqual({ records: 16, bytes: 480 });
    c.set('thread:big', 'x', 31, c.ticket()); // over a sixteenth of the size: never kept
    expect(c.get('thread:big')).toBeUndefined();
  });

  it('keeps nothing while the other processes cannot be heard, and forgets everything from before', () => {
    const c = cache();
    c.set('group:1', 'g', 10, c.ticket());
    const ticket = c.ticket();
    c.unheard();
    expect(c.get('group:1')).toBeUndefined();
    c.set('group:1', 'g', 10, c.ticket());
    expect(c.get('group:1')).toBeUndefined();
    c.heard();
    c.set('group:1', 'read before the gap', 10, ticket);
    expect(c.get('group:1')).toBeUndefined();
    c.set('group:1', 'g', 10, c.ticket());
    expect(c.get('group:1')).toBe('g');
  });

  it('tells the other processes of a change a repository made', () => {
    const c = cache();
    const told: unknown[] = [];
    c.connect({ toPeers: (event, payload) => told.push([event, payload]) });
    c.set('thread:1', 't', 10, c.ticket());
    c.changed(['thread:1']);
    expect(c.get('thread:1')).toBeUndefined();
    expect(told).toEqual([['record-cache:invalidate', ['thread:1']]]);
  });

  // Sessions are kept tagged with their person (docs/adr/0038-kept-sessions.md).
  it('drops the records tagged with a key when that key is dropped, and keeps none read before', () => {
    const c = cache();
    c.set('session:1', 's1', 10, c.ticket(), ['person:a']);
    c.set('session:2', 's2', 10, c.ticket(), ['person:a']);
    c.set('session:3', 's3', 10, c.ticket(), ['person:b']);
    const ticket = c.ticket(); // a read of another session of person a is under way
    c.invalidate(['person:a']);
    expect(['session:1', 'session:2', 'session:3'].map((k) => c.get(k))).toEqual([
      undefined,
      undefined,
      's3',
    ]);
    c.set('session:4', 'read before', 10, ticket, ['person:a']);
    expect(c.get('session:4')).toBeUndefined();
    c.set('session:4', 'read after', 10, c.ticket(), ['person:a']);
    expect(c.get('session:4')).toBe('read after');
    c.invalidate(['session:4']);
    c.invalidate(['person:a']); // its tag no longer names it
    expect(c.stats()).toEqual({ records: 1, bytes: 10 });
  });

  it('tells the other processes under its own name', () => {
    const told: unknown[] = [];
    const c = new RecordCache({ enabled: true, maxBytes: 1000 }, 'session-cache:invalidate');
    c.connect({ toPeers: (event, payload) => told.push([event, payload]) });
    c.changed(['session:1']);
    expect(told).toEqual([['session-cache:invalidate', ['session:1']]]);
  });

  it('reads only what is not kept, in one read', async () => {
    const c = cache();
    const reads: string[][] = [];
    const read = (keys: string[]) => async (missing: number[]) => {
      reads.push(missing.map((i) => keys[i]!));
      return missing.map((i) => ({ id: keys[i]! }));
    };
    const through = (keys: string[]) =>
      throughCache(
        c,
        keys,
        read(keys),
        (r) => r.id,
        () => 10,
      );
    await through(['a', 'b']);
    expect((await through(['a', 'b', 'c'])).map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
    expect(reads).toEqual([['a', 'b'], ['c']]);
    const off = new RecordCache({ enabled: false, maxBytes: 1000 });
    await throughCache(
      off,
      ['a'],
      read(['a']),
      (r) => r.id,
      () => 10,
    );
    await throughCache(
      off,
      ['a'],
      read(['a']),
      (r) => r.id,
      () => 10,
    );
    expect(reads.slice(2)).toEqual([['a'], ['a']]);
  });
});
