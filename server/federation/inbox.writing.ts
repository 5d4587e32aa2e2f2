/**
 * Posts of other nodes this process is writing now, by IRI (docs/federation.md, "Order"). An activity about
 * one of them that arrives meanwhile (its edit, a like, a reply to it, sent a moment after it) waits for the
 * write, at most `maxWaitMs`, instead of finding no such post and being dropped or refused.
 */
export class PostsBeingWritten {
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(private readonly maxWaitMs = 10_000) {}

  /** `write` writes the post `iri`: whatever asks about it meanwhile waits for it. */
  track<T>(iri: string, write: Promise<T>): Promise<T> {
    const settled = write.then(
      () => undefined,
      () => undefined,
    );
    this.writes.set(iri, settled);
    void settled.then(() => {
      if (this.writes.get(iri) === settled) this.writes.delete(iri);
    });
    return write;
  }

  /** Once the post `iri` being written here (if it is) is written or refused, or `maxWaitMs` has passed. */
  async settled(iri: string): Promise<void> {
    const write = this.writes.get(iri);
    if (!write) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      write,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.maxWaitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
