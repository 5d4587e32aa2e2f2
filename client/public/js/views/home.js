// #/ : the groups a visitor may see, the signed-in person's own first, and a form to start a group.
import { api, ApiError } from '../api.js';
import { choice, fields, h } from '../dom.js';
import { t } from '../i18n.js';

function groupList(groups) {
  if (groups.length === 0) return h('p', {}, t.noGroups);
  return h(
    'ul',
    { class: 'groups' },
    groups.map((g) =>
      h(
        'li',
        {},
        h('a', { href: `#/groups/${g.handle}` }, g.name),
        ' ',
        h('span', { class: 'muted' }, `@${g.handle} · ${t.members(g.memberCount)}`),
      ),
    ),
  );
}

function startGroupForm() {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { id: 'start-group', class: 'stack' },
    h('h2', {}, t.startGroup),
    h('label', {}, t.name, h('input', { name: 'name', required: true, maxlength: 100 })),
    h(
      'label',
      {},
      t.handle,
      h('input', { name: 'handle', required: true, pattern: '[a-z0-9][a-z0-9-]{1,39}' }),
    ),
    h(
      'label',
      {},
      t.visibility,
      choice({ name: 'visibility' }, [
        ['public', t.public],
        ['node', t.node],
        ['members', t.private],
      ]),
    ),
    h(
      'label',
      {},
      t.joinPolicy,
      choice({ name: 'joinPolicy' }, [
        ['open', t.open],
        ['request', t.request],
        ['invite', t.invite],
      ]),
    ),
    error,
    h('button', { type: 'submit' }, t.create),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { name, handle, visibility, joinPolicy } = fields(form);
    try {
      await api('/groups', 'POST', { name, handle, visibility, joinPolicy });
      location.hash = `#/groups/${handle}`;
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
    }
  });
  return form;
}

export async function homeView({ me, view }) {
  const all = await api('/groups?scope=all&limit=50');
  if (me) {
    const mine = await api('/groups?scope=mine&limit=50');
    view.append(h('h1', {}, t.yourGroups), groupList(mine.items));
  }
  view.append(h('h1', {}, t.allGroups), groupList(all.items));
  if (me) view.append(startGroupForm());
}
