/**
 * Writes a reader found necessary (a record that fell behind, a run of dead positions to remember), done
 * after the read has answered (docs/adr/0019-reads-never-write.md): a reader never waits for a lock or a
 * write, so a page under load does not queue behind the writers of what it shows. One repair per key at a
 * time in the process, at most `limit` at once; a failed or dropped one is found again by the next reader
 * that meets the same disagreement.
 */
export class Repairs {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly limit = 256) {}

  /** Start `work` unless a repair of `key` is already under way (or too many are). */
  schedule(key: string, work: () => Promise<unknown>): void {
    if (this.running.has(key) || this.running.size >= this.limit) return;
    const done = Promise.resolve()
      .then(work)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, done);
  }

  /** Resolves when every repair under way has ended (tests; a process stopping). */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }
}
