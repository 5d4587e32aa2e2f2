// Ensemble's web client (docs/adr/0014-web-client.md): the frame (shell.ts) and one page at a time, chosen
// by the address (routes.ts), kept live over Socket.IO (live.ts, docs/realtime.md), in English or French.
import { html, nothing, render } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import { ApiError, csrf, data, http, type Me, type Notification } from './api/api';
import { isLang, language, rememberVisitorLanguage, setLanguage, t, visitorLanguage } from './i18n/i18n';
import { live, type LiveStatus } from './live';
import { display, interceptLinks, match, navigate, onNavigate, type Page, type PageContext } from './router';
import { footer, header } from './shell';
import { unread } from './unread';
import { ErrorPage } from './views/error';
import './routes';
import './styles.css';

const app = document.getElementById('app')!;
let me: Me | null = null;
let csrfToken = '';
let status: LiveStatus = 'reconnecting';
let page: Page | null = null;
/** The address the shown page was drawn for (tests wait for it: main[data-path]). */
let shownPath = '';
let serial = 0;
let busy = false;
let leave: () => void = () => {};
let announcement = '';

async function signedIn(): Promise<Me | null> {
  const res = await fetch('/api/v1/me', { headers: { accept: 'application/json' } });
  return res.ok ? ((await res.json()) as Me) : null;
}

function draw(): void {
  render(
    html`${header(
        { me, csrf: csrfToken, status, unread: unread.count, path: location.pathname },
        { switchLanguage, search },
      )}
      <main id="main-content" tabindex="-1" aria-busy=${busy ? 'true' : 'false'} data-path=${shownPath}>
        <gcds-container size="xl" centered layout="page" tag="div">
          ${page ? keyed(serial, page.render()) : busy ? html`<p class="muted">${t.app.loading}</p>` : nothing}
        </gcds-container>
      </main>
      <div id="announcer" class="sr-only" role="status" aria-live="polite">${announcement}</div>
      ${footer()}`,
    app,
  );
  if (page) document.title = t.app.title(page.title());
}

/** Say something to screen readers: the text is cleared first, so the same words are said again. */
function announce(text: string): void {
  announcement = '';
  draw();
  setTimeout(() => {
    announcement = text;
    draw();
  }, 50);
}

async function show(url: URL, options: { push: boolean; replace: boolean }): Promise<void> {
  if (options.push) history.pushState(null, '', url);
  else if (options.replace) history.replaceState(null, '', url);
  leave();
  const current = ++serial;
  const stale = () => current !== serial;
  const cleanups: (() => void)[] = [];
  leave = () => cleanups.splice(0).forEach((fn) => fn());
  busy = true;
  shownPath = '';
  draw();
  const found = match(url.pathname);
  const ctx: PageContext = {
    me,
    params: found?.params ?? {},
    query: url.searchParams,
    onLeave: (fn) => (stale() ? fn() : cleanups.push(fn)),
    stale,
    update: () => {
      if (!stale()) draw();
    },
    reload: () => {
      if (!stale()) void display(new URL(location.href), { push: false, replace: false });
    },
    announce,
  };
  let next: Page;
  try {
    if (!found) throw new ApiError(404, null);
    next = new (await found.route.page())(ctx);
    await next.load();
  } catch (err) {
    if (stale()) return;
    next = new ErrorPage(ctx, err);
    await next.load();
  }
  if (stale()) return;
  const first = page === null;
  page = next;
  busy = false;
  shownPath = `${url.pathname}${url.search}`;
  draw();
  document.body.dataset.ready = 'true';
  if (!first) {
    // A new page: focus its heading, so keyboard and screen reader users start there.
    if (options.push) window.scrollTo(0, 0);
    const heading = app.querySelector<HTMLElement>('main h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: !options.push });
    }
  }
}

function switchLanguage(e: Event): void {
  e.preventDefault();
  const next = language() === 'en' ? 'fr' : 'en';
  setLanguage(next);
  draw();
  announce(t.app.languageChanged);
  if (me) {
    me = { ...me, locale: next };
    void http.PUT('/me/locale', { body: { locale: next } });
  } else rememberVisitorLanguage(next);
}

function search(e: CustomEvent<string>): void {
  e.preventDefault();
  const q = (e.detail ?? '').trim();
  navigate(q ? `/search?q=${encodeURIComponent(q)}` : '/search');
}

async function start(): Promise<void> {
  me = await signedIn();
  // ?lang= (the language toggle's own address, when followed without this script) chooses the language.
  const asked = new URL(location.href).searchParams.get('lang');
  const lang = isLang(asked) ? asked : me ? me.locale : visitorLanguage();
  setLanguage(lang);
  if (isLang(asked)) {
    const url = new URL(location.href);
    url.searchParams.delete('lang');
    history.replaceState(null, '', url);
    if (me && me.locale !== asked) void http.PUT('/me/locale', { body: { locale: asked } });
    else if (!me) rememberVisitorLanguage(asked);
  }
  if (me) {
    csrfToken = await csrf();
    live.on('notification', (n) => unread.arrived(n as unknown as Notification));
    const list = await data(http.GET('/notifications', { params: { query: { limit: 1 } } }));
    unread.set(list.unread);
  }
  unread.onChange(() => draw());
  live.onStatus((s) => {
    status = s;
    draw();
  });
  live.start();
  onNavigate(show);
  interceptLinks();
  // Old addresses (#/groups/x, #/threads/id) still lead to their page.
  const legacy = /^#(\/(groups|threads|people|notifications)[^#]*)$/.exec(location.hash);
  await display(new URL(legacy ? legacy[1]! : location.href, location.href), {
    push: false,
    replace: Boolean(legacy),
  });
}

(window as unknown as { ensemble: unknown }).ensemble = { live, navigate };
void start();
