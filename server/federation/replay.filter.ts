import { Lru } from '../core/lru.js';

/**
 * Activity ids this process has already processed, the most recent ones (an LRU). A replay or a retry seen
 * here is answered at once without being processed again. One this process has forgotten, or that another
 * process handled, is still harmless: apex keeps one copy of an activity per id and runs its side effects
 * once (`isNewActivity`), and a captured request cannot be replayed after the Date window (an hour).
 */
export class ReplayFilter {
  private readonly ids: Lru<string, true>;

  constructor(max = 50_000) {
    this.ids = new Lru(max);
  }

  seen(id: string): boolean {
    return this.ids.get(id) !== undefined;
  }

  remember(id: string): void {
    this.ids.set(id, true);
  }
}
