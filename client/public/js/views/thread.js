// #/threads/<id>: one discussion and its replies, kept current by the thread's room. New replies are read
// from the last position seen, so a burst or a reconnection adds each reply once, in order.
import { api, enc } from '../api.js';
import { fill, h, sanitised, time } from '../dom.js';
import { apiForm, labelled } from '../form.js';
import { language, t } from '../i18n.js';
import { live } from '../live.js';
import { refresher } from '../refresher.js';
import { removeControl, threadFlags } from './thread.moderation.js';

function postBody(post) {
  if (post.deleted)
    return h('p', { class: 'muted' }, post.deleted.byModerator ? t.removedByModerator : t.removed);
  return sanitised('div', post.body.html, { class: 'body' });
}

function byline(post) {
  return h(
    'p',
    { class: 'muted byline' },
    post.author ? `${post.author.displayName} (@${post.author.handle}) · ` : '',
    time(post.createdAt, language()),
    post.editedAt ? ` · ${t.edited}` : '',
  );
}

export async function threadView({ me, view, param: id, onLeave }) {
  const base = `/threads/${enc(id)}`;
  let thread = await api(base);
  let group = await api(`/groups/${enc(thread.group)}`);
  const moderator = () => group.viewer.can.includes('moderate');
  const canPost = () => group.viewer.can.includes('post') && (!thread.locked || moderator());
  const heading = h('article', { id: 'thread' });
  const list = h('ol', { id: 'replies', 'aria-live': 'polite' });
  const shown = new Map(); // reply id → its element
  let lastSeq = 0;
  let parentId = null;

  const likeButton = (kind, post, refresh) =>
    me && group.viewer.can.includes('post') && !post.deleted
      ? h(
          'button',
          {
            class: 'like',
            'aria-pressed': String(post.likedByMe),
            onclick: async () => {
              await api(`/${kind}/${post.id}/like`, post.likedByMe ? 'DELETE' : 'PUT');
              // Its live post.liked / post.unliked event redraws it; without a connection, read it now.
              if (!live.socket.connected) await refresh();
            },
          },
          `${post.likedByMe ? t.unlike : t.like} · ${t.likes(post.likeCount)}`,
        )
      : h('span', { class: 'muted likes' }, t.likes(post.likeCount));

  const replyElement = (reply) => {
    const el = h(
      'li',
      { class: `reply depth-${Math.min(reply.depth, 6)}`, dataset: { id: reply.id, seq: reply.seq } },
      byline(reply),
      postBody(reply),
      likeButton('replies', reply, () => refreshReply(reply.id)),
      removeControl('replies', reply, { me, moderator: moderator() }),
      canPost() && !reply.deleted
        ? h(
            'button',
            {
              class: 'reply-to',
              onclick: () => {
                if (!canPost()) return;
                parentId = reply.id;
                form.querySelector('textarea').focus();
              },
            },
            t.replyTo,
          )
        : null,
    );
    return el;
  };
  const show = (reply) => {
    const el = replyElement(reply);
    const old = shown.get(reply.id);
    if (old) old.replaceWith(el);
    else list.append(el);
    shown.set(reply.id, el);
    lastSeq = Math.max(lastSeq, reply.seq);
  };
  const drawHeading = () =>
    fill(
      heading,
      h('p', {}, h('a', { href: `#/groups/${thread.group}` }, `← ${t.back}`)),
      h(
        'h1',
        {},
        thread.pinned ? h('span', { class: 'tag' }, t.pinned) : null,
        thread.locked ? h('span', { class: 'tag' }, t.locked) : null,
        thread.deleted ? t.removed : thread.title,
      ),
      byline(thread),
      postBody(thread),
      likeButton('threads', thread, () => refreshThread()),
      removeControl('threads', thread, { me, moderator: moderator() }),
      moderator() && !thread.deleted ? threadFlags(thread) : null,
    );

  const refreshThread = refresher(async () => {
    thread = await api(base);
    drawHeading();
    showReplying();
  });
  // Locked or unlocked: the reply form and the reply buttons follow.
  const showReplying = () => {
    form.hidden = !canPost();
    list.classList.toggle('closed', !canPost());
  };
  const refreshReply = async (replyId) => {
    if (shown.has(replyId)) show(await api(`/replies/${enc(replyId)}`));
  };
  // Everything after the last position seen, page by page.
  const sync = refresher(async () => {
    for (;;) {
      const page = await api(`${base}/replies?limit=100${lastSeq ? `&cursor=${lastSeq}` : ''}`);
      for (const reply of page.items) show(reply);
      if (!page.nextCursor) return;
    }
  });
  // After a gap Socket.IO could not replay: read everything again (edits, deletions and likes included).
  const catchUp = async () => {
    group = await api(`/groups/${enc(thread.group)}`);
    await refreshThread();
    lastSeq = 0;
    await sync();
  };

  const form = apiForm(
    { id: 'reply-form' },
    t.post,
    [labelled(t.reply, h('textarea', { name: 'body', required: true, rows: 3 }))],
    async ({ body }) => {
      const reply = await api(`${base}/replies`, 'POST', parentId ? { body, parentId } : { body });
      parentId = null;
      // Shown now; the live event for it is then a no-op.
      show(reply);
    },
  );

  drawHeading();
  view.append(heading);
  if (me && group.viewer.role) view.append(followControl(id));
  view.append(list);
  showReplying();
  view.append(form);

  onLeave(await live.follow({ kind: 'thread', id }, catchUp));
  // Read again once following: a change between the first read and the join (a lock, an edit) arrived
  // before the room did.
  await Promise.all([refreshThread(), sync()]);

  const mine = (e) => e.threadId === id;
  const on = (event, handler) => onLeave(live.on(event, (e) => mine(e) && handler(e)));
  on('reply.created', (e) => {
    if (e.seq > lastSeq) sync();
  });
  on('thread.updated', () => refreshThread());
  for (const event of ['post.edited', 'post.deleted', 'post.liked', 'post.unliked'])
    on(event, (e) => (e.kind === 'threads' ? refreshThread() : refreshReply(e.id)));
}

function followControl(id) {
  const box = h('input', { type: 'checkbox', id: 'follow-thread' });
  api(`/threads/${enc(id)}/subscription`).then((s) => (box.checked = s.level === 'all'));
  box.addEventListener('change', () =>
    api(`/threads/${enc(id)}/subscription`, 'PUT', { level: box.checked ? 'all' : 'none' }),
  );
  return h('p', {}, box, ' ', h('label', { for: 'follow-thread' }, t.followThread));
}
