import { createHash, randomBytes } from 'node:crypto';
import { Hearing } from './hearing.js';

/**
 * Pages read often and written rarely, kept in this process (docs/adr/0027-page-cache.md).
 *
 * Every page depends on scopes (`group:<id>`, `people`): a domain event that changes what a scope shows bumps
 * its version here and in every other process (cache.bridge.ts), which drops the cached pages depending on
 * it. The versions of a page's scopes make its ETag, so a conditional request is answered before the page is
 * built. Anonymous pages are kept whole (their bytes, ETag and scopes); a page built while one of its
 * scopes changed is not kept, so a write is never hidden by a read that was already under way.
 */

export interface CachedPage {
  body: Buffer;
  etag: string;
  scopes: string[];
}

export interface PageCacheOptions {
  enabled: boolean;
  /** The most bytes of page bodies kept (least recently used go first). */
  maxBytes: number;
}

export class PageCache {
  /** Changes at every start, so an ETag from before a restart never matches. */
  private readonly boot = randomBytes(6).toString('hex');
  private readonly versions = new Map<string, number>();
  private readonly pages = new Map<string, CachedPage>();
  private readonly byScope = new Map<string, Set<string>>();
  private bytes = 0;
  /** Bumped when this process may have missed other processes' changes: every earlier ETag stops matching. */
  private epoch = 0;
  /** While the other processes cannot be heard (Redis is down), nothing is kept or answered 304. */
  readonly hearing = new Hearing(() => this.forgetAll());

  constructor(readonly options: PageCacheOptions) {}

  get enabled(): boolean {
    return this.options.enabled && this.hearing.hears;
  }

  /** The current version of these scopes: what an ETag and a kept page are checked against. */
  version(scopes: string[]): string {
    if (!this.hearing.hears) return `deaf:${randomBytes(6).toString('hex')}`; // matches nothing, keeps nothing
    return `${this.boot}.${this.epoch}:${scopes.map((s) => `${s}=${this.versions.get(s) ?? 0}`).join(',')}`;
  }

  /** Every page goes, and every earlier ETag stops matching (the other processes stopped or started being heard). */
  private forgetAll(): void {
    this.epoch++;
    this.pages.clear();
    this.byScope.clear();
    this.bytes = 0;
  }

  /** An ETag for a page: the request, who reads it, and the versions of what it shows. */
  etag(key: string, reader: string, version: string): string {
    return `W/"${createHash('sha256').update(`${key}\n${reader}\n${version}`).digest('base64url').slice(0, 27)}"`;
  }

  get(key: string): CachedPage | undefined {
    const page = this.pages.get(key);
    if (!page) return undefined;
    // Most recently used last.
    this.pages.delete(key);
    this.pages.set(key, page);
    return page;
  }

  /** Keep a page, unless one of its scopes changed since `version` was read (the build started). */
  set(key: string, page: CachedPage, version: string): void {
    if (!this.enabled || version !== this.version(page.scopes)) return;
    if (page.body.length > this.options.maxBytes / 8) return;
    this.drop(key);
    this.pages.set(key, page);
    this.bytes += page.body.length;
    for (const scope of page.scopes) {
      let keys = this.byScope.get(scope);
      if (!keys) this.byScope.set(scope, (keys = new Set()));
      keys.add(key);
    }
    for (const [oldest] of this.pages) {
      if (this.bytes <= this.options.maxBytes) break;
      this.drop(oldest);
    }
  }

  private drop(key: string): void {
    const page = this.pages.get(key);
    if (!page) return;
    this.pages.delete(key);
    this.bytes -= page.body.length;
    for (const scope of page.scopes) this.byScope.get(scope)?.delete(key);
  }

  /** These scopes changed: new versions, and the pages that showed them go. */
  invalidate(scopes: string[]): void {
    for (const scope of scopes) {
      this.versions.set(scope, (this.versions.get(scope) ?? 0) + 1);
      for (const key of this.byScope.get(scope) ?? []) this.drop(key);
      this.byScope.delete(scope);
    }
  }

  /** How much is kept (for metrics and tests). */
  stats(): { pages: number; bytes: number } {
    return { pages: this.pages.size, bytes: this.bytes };
  }
}
