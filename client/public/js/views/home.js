// #/ : the groups a visitor may see, the signed-in person's own first, and a form to start a group.
import { api } from '../api.js';
import { choice, h } from '../dom.js';
import { apiForm, labelled } from '../form.js';
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
  return apiForm(
    { id: 'start-group' },
    t.create,
    [
      h('h2', {}, t.startGroup),
      labelled(t.name, h('input', { name: 'name', required: true, maxlength: 100 })),
      labelled(
        t.handle,
        h('input', { name: 'handle', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,39}' }),
      ),
      labelled(
        t.visibility,
        choice({ name: 'visibility' }, [
          ['public', t.public],
          ['node', t.node],
          ['members', t.private],
        ]),
      ),
      labelled(
        t.joinPolicy,
        choice({ name: 'joinPolicy' }, [
          ['open', t.open],
          ['request', t.request],
          ['invite', t.invite],
        ]),
      ),
    ],
    async (group) => {
      await api('/groups', 'POST', group);
      location.hash = `#/groups/${group.handle}`;
    },
  );
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
