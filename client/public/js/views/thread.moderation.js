// What a thread page offers beyond reading and replying: moderators pin, lock and remove (with a reason
// the author is shown); authors delete their own posts. Every change reaches open pages by live events.
import { api, ApiError } from '../api.js';
import { h } from '../dom.js';
import { apiForm, labelled } from '../form.js';
import { t } from '../i18n.js';

/** A button's action; a refusal is said next to it (the live event redraws the page on success). */
function action(run) {
  return async (e) => {
    const button = e.currentTarget;
    try {
      await run();
    } catch (err) {
      button.after(
        h('span', { class: 'error', role: 'alert' }, err instanceof ApiError ? err.message : String(err)),
      );
    }
  };
}

/** Pin / unpin and lock / unlock a thread (moderators). */
export function threadFlags(thread) {
  const toggle = (flag, on, words) =>
    h(
      'button',
      {
        class: `flag-${flag}`,
        onclick: action(() => api(`/threads/${thread.id}/${flag}`, on ? 'DELETE' : 'PUT')),
      },
      on ? words[1] : words[0],
    );
  return h(
    'p',
    { class: 'moderation' },
    toggle('pin', thread.pinned, [t.pin, t.unpin]),
    ' ',
    toggle('lock', thread.locked, [t.lock, t.unlock]),
  );
}

/**
 * Delete (its author) or remove (a moderator, with a reason) one post. A moderator's removal of someone
 * else's post asks for the reason first.
 */
export function removeControl(kind, post, { me, moderator }) {
  if (post.deleted || !me) return null;
  const mine = post.author?.handle === me.profile.handle;
  if (mine)
    return h(
      'button',
      {
        class: 'delete',
        onclick: action(async () => {
          if (window.confirm(t.confirmDelete)) await api(`/${kind}/${post.id}`, 'DELETE', {});
        }),
      },
      t.deletePost,
    );
  if (!moderator) return null;
  return h(
    'details',
    { class: 'remove' },
    h('summary', {}, t.removePost),
    apiForm(
      { class: 'remove-form' },
      t.removePost,
      [labelled(t.reason, h('input', { name: 'reason', required: true, maxlength: 500 }))],
      ({ reason }) => api(`/${kind}/${post.id}`, 'DELETE', { reason }),
    ),
  );
}
