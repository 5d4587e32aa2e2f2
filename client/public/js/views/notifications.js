// #/notifications: what happened for me, newest first, live; mark read; how I get notification mail.
import { api } from '../api.js';
import { choice, fill, h, time } from '../dom.js';
import { language, t } from '../i18n.js';
import { unread } from '../unread.js';

function emailControl() {
  const select = choice({ id: 'email-delivery' }, [
    ['immediate', t.emailImmediate],
    ['daily', t.emailDaily],
    ['weekly', t.emailWeekly],
    ['none', t.emailNone],
  ]);
  const note = h('span', { class: 'muted', role: 'status' });
  api('/notifications/settings').then((s) => (select.value = s.email));
  select.addEventListener('change', async () => {
    await api('/notifications/settings', 'PUT', { email: select.value });
    note.textContent = t.saved;
  });
  return h('p', {}, h('label', { for: 'email-delivery' }, `${t.emailDelivery} `), select, ' ', note);
}

export async function notificationsView({ me, view, onLeave }) {
  if (!me) {
    location.href = '/auth/login';
    return;
  }
  const list = h('ul', { id: 'notifications', 'aria-live': 'polite' });
  const item = (n) => {
    const who = n.actor ? `@${n.actor}` : t.someone;
    const text = (t.kinds[n.kind] ?? (() => n.kind))(who);
    const href = n.threadId ? `#/threads/${n.threadId}` : n.group ? `#/groups/${n.group}` : '#/';
    const el = h(
      'li',
      { class: n.read ? 'read' : 'unread', dataset: { id: n.id } },
      h('a', { href, onclick: () => markRead(n, el) }, text),
      n.group ? h('span', { class: 'muted' }, ` ${t.inGroup(n.group)} · `) : ' ',
      time(n.createdAt, language()),
      n.read ? null : h('button', { class: 'mark-read', onclick: () => markRead(n, el) }, t.markRead),
    );
    return el;
  };
  const markRead = async (n, el) => {
    if (n.read) return;
    n.read = true;
    el.replaceWith(item(n));
    await api('/notifications/read', 'POST', { ids: [n.id] });
    unread.add(-1);
  };
  const load = async () => {
    const page = await api('/notifications?limit=50');
    unread.set(page.unread);
    fill(
      list,
      page.items.length ? page.items.map(item) : h('li', { class: 'muted empty' }, t.noNotifications),
    );
  };
  view.append(
    h('h1', {}, t.notifications),
    h(
      'p',
      {},
      h(
        'button',
        {
          id: 'mark-all-read',
          onclick: async () => {
            await api('/notifications/read', 'POST', { all: true });
            await load();
          },
        },
        t.markAllRead,
      ),
    ),
    list,
    emailControl(),
  );
  await load();
  onLeave(
    unread.onArrival((n) => {
      list.querySelector('.empty')?.remove();
      list.prepend(item(n));
    }),
  );
}
