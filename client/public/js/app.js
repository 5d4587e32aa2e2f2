// Ensemble's web client: a header (who is signed in, live status, unread notifications) and one view at a
// time, chosen by the URL's hash: #/ (groups), #/groups/<handle>, #/threads/<id>, #/notifications.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { setLanguage, t } from './i18n.js';
import { live } from './live.js';
import { unread } from './unread.js';
import { homeView } from './views/home.js';
import { groupView } from './views/group.js';
import { threadView } from './views/thread.js';
import { notificationsView } from './views/notifications.js';

const routes = [
  [/^#\/groups\/([a-z0-9-]+)$/, groupView],
  [/^#\/threads\/([0-9a-f]{24})$/, threadView],
  [/^#\/notifications$/, notificationsView],
  [/^(#\/?)?$/, homeView],
];

let me = null;
let leave = () => {};

async function signedIn() {
  const res = await fetch('/api/v1/me', { headers: { accept: 'application/json' } });
  return res.ok ? res.json() : null;
}

function header() {
  const status = h('span', { id: 'live-status', role: 'status' });
  live.onStatus((s) => {
    status.textContent = s === 'live' ? t.live : t.reconnecting;
    status.className = s;
  });
  const nav = [h('a', { href: '#/' }, t.home)];
  if (me) {
    const badge = h('span', { id: 'unread', class: 'badge' });
    unread.onChange((n) => {
      badge.textContent = n > 0 ? String(n) : '';
      badge.hidden = n === 0;
    });
    nav.push(h('a', { href: '#/notifications', id: 'bell' }, t.notifications, ' ', badge));
  }
  const session = me
    ? h(
        'form',
        { method: 'post', action: '/auth/logout', class: 'session' },
        h('span', { id: 'who' }, `${t.signedInAs} ${me.profile.displayName} (@${me.profile.handle})`),
        me.profile.organization ? h('span', { id: 'org' }, ` · ${me.profile.organization.name.en}`) : null,
        h('input', { type: 'hidden', name: '_csrf', id: 'csrf' }),
        h('button', { type: 'submit' }, t.signOut),
      )
    : h('a', { href: '/auth/login', class: 'session' }, `${t.signIn} · Connexion`);
  return h('header', {}, h('strong', { class: 'brand' }, 'Ensemble'), h('nav', {}, nav), status, session);
}

let navigation = 0;

/**
 * Draw the view the address names. Each drawing gets its own container; a newer one (the address
 * changed, or the page redraws itself while an earlier drawing still reads) detaches it, so two drawings
 * never mix, and a stale drawing's live subscriptions end as soon as they are made.
 */
async function route() {
  leave();
  const current = ++navigation;
  const stale = () => current !== navigation;
  const view = h('div', { class: 'page' });
  fill(document.getElementById('view'), view);
  const hash = location.hash;
  for (const [pattern, render] of routes) {
    const match = pattern.exec(hash);
    if (!match) continue;
    const cleanups = [];
    leave = () => cleanups.splice(0).forEach((fn) => fn());
    const onLeave = (fn) => (stale() ? fn() : cleanups.push(fn));
    try {
      await render({ me, view, param: match[1], onLeave });
    } catch (err) {
      if (!stale())
        fill(view, h('p', { class: 'error', role: 'alert' }, err.status === 404 ? t.notFound : err.message));
    }
    return;
  }
  fill(view, h('p', { class: 'error', role: 'alert' }, t.notFound));
}

async function start() {
  me = await signedIn();
  setLanguage(me?.locale);
  document.body.prepend(header());
  if (me) {
    const csrf = await api('/auth/csrf');
    document.getElementById('csrf').value = csrf.token;
    live.on('notification', (n) => unread.arrived(n));
    const list = await api('/notifications?limit=1');
    unread.set(list.unread);
  }
  live.start();
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = 'true';
}

window.ensemble = { live };
start();
