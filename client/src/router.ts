// History routing: real addresses (/groups/<handle>, /people/<handle>, /search, /admin/...) that the
// server answers with this client for a browser (server/web/). Links to those addresses are followed in
// place (pushState); each page is an object that reads what it shows (load) and draws it (render), and is
// drawn again when its state, the language or the header changes. A page left for another one is stale:
// its late reads and live events draw nothing.
import type { TemplateResult } from 'lit';
import type { Me } from './api/api';

export interface PageContext {
  me: Me | null;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Run when the page is left (unfollow rooms, stop listening). Runs at once if already left. */
  onLeave(fn: () => void): void;
  /** True once another page replaced this one. */
  stale(): boolean;
  /** Draw this page again (its state changed). */
  update(): void;
  /** Read and draw this page again from scratch (what the viewer may do here changed). */
  reload(): void;
  /** Say something to screen readers (a polite live region). */
  announce(text: string): void;
}

export abstract class Page {
  constructor(protected readonly ctx: PageContext) {}
  /** Read what the page shows and follow its rooms. An ApiError 404 shows the not-found page. */
  abstract load(): Promise<void>;
  /** The page's name, for the document title. */
  abstract title(): string;
  abstract render(): TemplateResult;
  protected update(): void {
    this.ctx.update();
  }
}

export type PageClass = new (ctx: PageContext) => Page;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: () => Promise<PageClass>;
}

const routes: Route[] = [];

/** Declare a route: `/groups/:handle/threads/:id`. A segment `:name` matches one path segment. */
export function route(path: string, page: () => Promise<PageClass>): void {
  const keys: string[] = [];
  const source = path.replace(/:(\w+)/g, (_, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  routes.push({ pattern: new RegExp(`^${source}/?$`), keys, page });
}

export function match(pathname: string): { route: Route; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((key, i) => {
      try {
        params[key] = decodeURIComponent(m[i + 1]!);
      } catch {
        params[key] = m[i + 1]!;
      }
    });
    return { route: r, params };
  }
  return null;
}

type Navigator = (url: URL, options: { push: boolean; replace: boolean }) => Promise<void>;
let show: Navigator = async () => {};
/** The path and query of the page shown (a change of fragment alone is no new page). */
let shown = '';
/** Show the page of an address (the app's first page, and every navigation after it). */
export const display: Navigator = (url, options) => {
  shown = `${url.pathname}${url.search}`;
  return show(url, options);
};
const navigator = display;

/** Set by the app: how an address is shown. */
export function onNavigate(fn: Navigator): void {
  show = fn;
}

/** Go to an address of this client (pushState), or load it when the client does not know it. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) {
    location.assign(url.toString());
    return;
  }
  void navigator(url, { push: !options.replace, replace: Boolean(options.replace) });
}

/** Follow same-origin links to client addresses in place (also links inside design-system components). */
export function interceptLinks(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const anchor = e
      .composedPath()
      .find((n): n is HTMLAnchorElement => n instanceof HTMLAnchorElement && n.hasAttribute('href'));
    if (!anchor || anchor.hasAttribute('download') || (anchor.target && anchor.target !== '_self')) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || !match(url.pathname)) return;
    // Only the fragment changes (the skip link): the browser moves to it.
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    e.preventDefault();
    navigate(url.toString());
  });
  window.addEventListener('popstate', () => {
    const url = new URL(location.href);
    // Following the skip link (#main-content) or a reply's anchor changes the fragment only.
    if (`${url.pathname}${url.search}` === shown) return;
    void navigator(url, { push: false, replace: false });
  });
}
