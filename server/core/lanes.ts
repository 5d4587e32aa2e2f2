/**
 * Two lanes for a process's work (docs/adr/0042-first-deliveries-before-bookkeeping.md): what someone is
 * waiting for now, held while it is under way (a new post's first deliveries, from its event until every one
 * of them is handed to its connection), and what nobody waits for, which runs `later` (the JSON-LD forms kept
 * for fetching activities back, notification jobs). On two shared cores the bookkeeping of a post otherwise
 * takes the CPU its deliveries need to be signed and sent.
 *
 * `later` never starves: it waits at most `maxWaitMs`, however much is held.
 */
export class Lanes {
  private readonly held = new Set<Promise<void>>();

  constructor(private readonly maxWaitMs = 250) {}

  /** Urgent work under way until `work` settles. */
  hold(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.held.add(settled);
    void settled.then(() => this.held.delete(settled));
  }

  /** Urgent work under way until the function returned is called (any number of times). */
  open(): () => void {
    let release!: () => void;
    this.hold(new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  /** Whether urgent work is under way (tests). */
  get busy(): boolean {
    return this.held.size > 0;
  }

  /**
   * Resolves once no urgent work is under way, or after `maxWaitMs`. Looks after the current turn of the event
   * loop: what the other listeners of the same domain event hold is held by then.
   */
  async later(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const until = Date.now() + this.maxWaitMs;
    while (this.held.size) {
      const left = until - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.held]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      // Work that was waiting for the same moment (the next post's first deliveries) goes first.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
