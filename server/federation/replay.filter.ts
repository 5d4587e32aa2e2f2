/**
 * Activity ids this process has already processed, the most recent ones (an LRU). A replay or a retry seen
 * here is answered at once without being processed again. One this process has forgotten, or that another
 * process handled, is still harmless: apex keeps one copy of an activity per id and runs its side effects
 * once (`isNewActivity`), and a captured request cannot be replayed after the Date window (an hour).
 */
export class ReplayFilter {
  private readonly ids = new Set<string>();

  constructor(private readonly max = 50_000) {}

  seen(id: string): boolean {
    return this.ids.has(id);
  }

  remember(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
  }
}
