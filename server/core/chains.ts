/**
 * Work run one at a time per key, in the order it was asked for, in this process (a failure does not stop
 * the work after it). A key's chain is forgotten once it is idle.
 */
export class KeyedChains {
  private readonly chains = new Map<string, Promise<unknown>>();

  run(key: string, work: () => Promise<void>): Promise<void> {
    const run = (this.chains.get(key) ?? Promise.resolve()).then(work, work);
    this.chains.set(key, run);
    void run.finally(() => this.chains.get(key) === run && this.chains.delete(key)).catch(() => undefined);
    return run;
  }
}
