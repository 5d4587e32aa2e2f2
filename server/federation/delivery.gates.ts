/** Counting gates: so many sends at once in all, so many per host. */
export class Gates {
  private active = 0;
  private readonly perHost = new Map<string, number>();
  private readonly waiting: { host: string; cap: number; go: () => void }[] = [];
  constructor(private readonly total: number) {}

  get inFlight(): number {
    return this.active;
  }

  enter(host: string, cap: number): Promise<void> {
    return new Promise((go) => {
      this.waiting.push({ host, cap, go });
      this.pump();
    });
  }

  leave(host: string): void {
    this.active--;
    const left = (this.perHost.get(host) ?? 1) - 1;
    if (left > 0) this.perHost.set(host, left);
    else this.perHost.delete(host);
    this.pump();
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.total;) {
      const w = this.waiting[i]!;
      if ((this.perHost.get(w.host) ?? 0) >= w.cap) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.active++;
      this.perHost.set(w.host, (this.perHost.get(w.host) ?? 0) + 1);
      w.go();
    }
  }
}

/** When every delivery of a set is handed to its connection (`DeliveryWorker.onSending`). */
export class Handing {
  private left = 0;
  private release!: () => void;
  readonly done = new Promise<void>((resolve) => (this.release = resolve));

  /** How many deliveries there are (none: done). */
  expect(count: number): void {
    this.left += count;
    if (this.left <= 0) this.release();
  }

  /** A function that counts one delivery handed, however often it is called. */
  one(): () => void {
    let told = false;
    return () => {
      if (told) return;
      told = true;
      if (--this.left <= 0) this.release();
    };
  }

  /** Whatever is left is not waited for any more. */
  end(): void {
    this.release();
  }
}
