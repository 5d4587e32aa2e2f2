// #/groups/<handle>: a group's discussions, members and files, kept current by the group's room.
import { api, enc } from '../api.js';
import { choice, fill, h, sanitised, time } from '../dom.js';
import { apiForm, labelled } from '../form.js';
import { language, t } from '../i18n.js';
import { live } from '../live.js';
import { refresher } from '../refresher.js';
import { invitationBanner, inviteForm, joinRequests, uploadForm } from './group.people.js';

function threadItem(th) {
  return h(
    'li',
    { class: 'thread', dataset: { id: th.id } },
    th.pinned ? h('span', { class: 'tag' }, t.pinned) : null,
    th.locked ? h('span', { class: 'tag' }, t.locked) : null,
    h('a', { href: `#/threads/${th.id}` }, th.deleted ? t.removed : th.title),
    h(
      'span',
      { class: 'muted' },
      ` · ${th.author ? th.author.displayName : ''} · ${t.replies(th.replyCount)} · ${t.likes(th.likeCount)} · `,
      time(th.lastActivityAt, language()),
    ),
  );
}

function subscriptionControl(handle) {
  const select = choice({ id: 'group-level' }, [
    ['all', t.levelAll],
    ['default', t.levelDefault],
    ['mute', t.levelMute],
  ]);
  const note = h('span', { class: 'muted', role: 'status' });
  api(`/groups/${enc(handle)}/subscription`).then((s) => (select.value = s.level));
  select.addEventListener('change', async () => {
    await api(`/groups/${enc(handle)}/subscription`, 'PUT', { level: select.value });
    note.textContent = t.saved;
  });
  return h('p', {}, h('label', { for: 'group-level' }, `${t.groupNotifications} `), select, ' ', note);
}

/** Start a discussion; the group's owner and admins may post it without notifying anyone. */
function newThreadForm(handle, onPosted, mayPostQuietly) {
  return apiForm(
    { id: 'new-thread' },
    t.post,
    [
      h('h2', {}, t.newThread),
      labelled(t.title, h('input', { name: 'title', required: true, minlength: 3, maxlength: 200 })),
      labelled(t.message, h('textarea', { name: 'body', required: true, rows: 3 })),
      mayPostQuietly
        ? h(
            'label',
            { class: 'inline' },
            h('input', { type: 'checkbox', name: 'quiet' }),
            ` ${t.postQuietly}`,
          )
        : null,
    ],
    async ({ title, body, quiet }) => {
      await api(
        `/groups/${enc(handle)}/threads`,
        'POST',
        quiet ? { title, body, notify: false } : { title, body },
      );
      onPosted();
    },
  );
}

/** Draw the view again from scratch (what the person may do here changed). */
const rerender = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

export async function groupView({ me, view, param: handle, onLeave }) {
  const path = `/groups/${enc(handle)}`;
  let group = await api(path);
  const heading = h('section', { id: 'group-heading' });
  const threads = h('ul', { id: 'threads', 'aria-live': 'polite' });
  const members = h('ul', { id: 'members', class: 'inline' });
  const files = h('ul', { id: 'files' });
  const activity = h('ul', { id: 'activity', 'aria-live': 'polite' });
  const can = (what) => group.viewer.can.includes(what);
  const canRead = () => can('read');

  const drawHeading = () => {
    const description = group.description[language()] ?? group.description.en ?? group.description.fr;
    const viewer = group.viewer;
    fill(
      heading,
      h('h1', {}, group.name),
      h(
        'p',
        { class: 'muted' },
        `@${group.handle} · `,
        h('span', { id: 'member-count' }, t.members(group.memberCount)),
      ),
      description ? sanitised('div', description.html, { class: 'body' }) : null,
      viewer.can.includes('join') ? h('button', { id: 'join', onclick: () => act('join') }, t.join) : null,
      viewer.can.includes('request')
        ? h('button', { id: 'request', onclick: () => act('requests') }, t.askToJoin)
        : null,
      viewer.state === 'requested' ? h('p', {}, t.requested) : null,
      viewer.can.includes('respondToInvitation') ? invitationBanner(path, rerender) : null,
      viewer.can.includes('leave')
        ? h('button', { id: 'leave', onclick: () => act('leave') }, t.leave)
        : null,
    );
  };
  const act = async (what) => {
    await api(`${path}/${what}`, 'POST');
    rerender();
  };
  const requests = can('moderate') ? joinRequests(path, () => refreshMembers()) : null;
  const refreshThreads = refresher(async () => {
    if (!canRead()) return fill(threads);
    const page = await api(`${path}/threads?limit=30`);
    const all = [...page.pinned, ...page.items];
    fill(threads, all.length ? all.map(threadItem) : h('li', { class: 'muted' }, t.noThreads));
  });
  // Names seen in the member list and the file list, for the live activity (events carry only ids).
  const names = new Map();
  const refreshMembers = refresher(async () => {
    if (!canRead()) return fill(members);
    const page = await api(`${path}/members?limit=50`);
    for (const m of page.items) names.set(m.id, m.displayName);
    fill(
      members,
      page.items.map((m) => h('li', {}, `${m.displayName} (@${m.handle})`)),
    );
  });
  const refreshFiles = refresher(async () => {
    if (!canRead()) return fill(files);
    const listing = await api(`${path}/files?limit=20`);
    for (const f of listing.files) names.set(f.id, f.name);
    const items = [
      ...listing.folders.map((f) => h('li', {}, `📁 ${f.name}`)),
      ...listing.files.map((f) => h('li', {}, h('a', { href: f.url, download: f.name }, f.name))),
    ];
    fill(files, items.length ? items : h('li', { class: 'muted' }, t.noFiles));
  });
  const refreshGroup = refresher(async () => {
    group = await api(path);
    drawHeading();
  });
  const reload = async () => {
    await refreshGroup();
    await Promise.all([refreshThreads(), refreshMembers(), refreshFiles(), requests?.refresh()]);
  };
  const note = (text) => {
    activity.prepend(h('li', {}, time(new Date().toISOString(), language()), ' ', text));
    while (activity.children.length > 10) activity.lastChild.remove();
  };

  drawHeading();
  view.append(heading);
  if (me && group.viewer.role) view.append(subscriptionControl(handle));
  if (can('post'))
    view.append(newThreadForm(handle, refreshThreads, ['owner', 'admin'].includes(group.viewer.role)));
  view.append(
    h('h2', {}, t.threads),
    threads,
    h(
      'div',
      { class: 'columns' },
      h('section', {}, h('h2', {}, t.files), files, can('post') ? uploadForm(path) : null),
      h('section', {}, h('h2', {}, t.activity), activity),
    ),
    h('h2', {}, t.membersHeading),
    members,
    requests?.element,
    can('manageMembers') ? inviteForm(path) : null,
  );

  // Follow first, then read: whatever happens in between arrives live and the reads include it.
  if (canRead()) onLeave(await live.follow({ kind: 'group', group: handle }, reload));
  await reload();

  const mine = (e) => e.groupId === group.id;
  const on = (event, handler) => onLeave(live.on(event, (e) => mine(e) && handler(e)));
  for (const event of [
    'thread.created',
    'thread.updated',
    'reply.created',
    'post.edited',
    'post.deleted',
    'post.liked',
    'post.unliked',
  ])
    on(event, () => refreshThreads());
  const isMe = (userId) => me && userId === me.profile.id;
  // A moderator hears of a new request through their own notification.
  onLeave(
    live.on(
      'notification',
      (n) => n.kind === 'join.request' && n.group === group.handle && requests?.refresh(),
    ),
  );
  on('member.joined', async (e) => {
    // Approved or invited in: what this person may do here has changed.
    if (isMe(e.userId)) return rerender();
    requests?.refresh();
    refreshGroup();
    await refreshMembers();
    note(t.joined(memberName(e.userId)));
  });
  on('member.left', async (e) => {
    note(t.left(memberName(e.userId), e.reason));
    // Removed or banned: what this person may see has changed.
    if (isMe(e.userId)) return rerender();
    refreshGroup();
    refreshMembers();
  });
  on('member.role_changed', (e) => {
    if (isMe(e.userId)) return rerender();
    note(t.roleChanged(memberName(e.userId), e.role));
    refreshMembers();
  });
  on('file.uploaded', async (e) => {
    await refreshFiles();
    note(t.fileUploaded(names.get(e.fileId)));
  });
  for (const event of ['file.replaced', 'file.updated', 'file.deleted', 'file.restored', 'folder.changed'])
    on(event, async (e) => {
      const known = names.get(e.fileId); // a deleted file leaves the list, not this map
      await refreshFiles();
      note(t.fileChanged(known ?? names.get(e.fileId)));
    });

  function memberName(userId) {
    if (isMe(userId)) return me.profile.displayName;
    return names.get(userId) ?? t.someone;
  }
}
