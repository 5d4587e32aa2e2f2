// The parts of a group page about who is in it: answering an invitation, the join requests a moderator
// decides, inviting someone (admins), leaving, and adding a file to the library (members).
import { api, apiUpload, enc } from '../api.js';
import { fill, h } from '../dom.js';
import { apiForm, labelled } from '../form.js';
import { t } from '../i18n.js';
import { refresher } from '../refresher.js';

/** "You are invited" with Accept and Decline; `done()` once answered. */
export function invitationBanner(path, done) {
  const answer = (what) => async () => {
    await api(`${path}/invitation/${what}`, 'POST');
    done();
  };
  return h(
    'p',
    { id: 'invitation', role: 'status' },
    `${t.invited} `,
    h('button', { onclick: answer('accept') }, t.accept),
    ' ',
    h('button', { onclick: answer('decline') }, t.decline),
  );
}

/** The pending join requests, each with Approve and Deny (moderators); `refresh()` reads them again. */
export function joinRequests(path, onDecided) {
  const list = h('ul', { id: 'join-requests', 'aria-live': 'polite' });
  const decide = (handle, decision) => async () => {
    await api(`${path}/requests/${enc(handle)}/${decision}`, 'POST');
    await refresh();
    onDecided();
  };
  const refresh = refresher(async () => {
    const page = await api(`${path}/members?state=requested&limit=100`);
    fill(
      list,
      page.items.length
        ? page.items.map((m) =>
            h(
              'li',
              { dataset: { handle: m.handle } },
              `${m.displayName} (@${m.handle}) `,
              h('button', { onclick: decide(m.handle, 'approve') }, t.approve),
              ' ',
              h('button', { onclick: decide(m.handle, 'deny') }, t.deny),
            ),
          )
        : h('li', { class: 'muted' }, t.noRequests),
    );
  });
  return { element: h('section', {}, h('h2', {}, t.joinRequests), list), refresh };
}

/** Invite a person of this node by their short name (admins). */
export function inviteForm(path) {
  const sent = h('p', { class: 'muted', role: 'status' });
  const form = apiForm(
    { id: 'invite' },
    t.sendInvitation,
    [labelled(t.inviteWho, h('input', { name: 'person', required: true, maxlength: 64 }))],
    async ({ person }) => {
      const handle = person.replace(/^@/, '');
      await api(`${path}/invitations`, 'POST', { person: handle });
      sent.textContent = t.invitationSent(handle);
    },
  );
  return h('section', {}, h('h2', {}, t.inviteHeading), form, sent);
}

/** Add one or more files to the group's library (members). */
export function uploadForm(path) {
  return apiForm(
    { id: 'upload', enctype: 'multipart/form-data' },
    t.upload,
    [labelled(t.chooseFiles, h('input', { type: 'file', name: 'files', multiple: true, required: true }))],
    async (_fields, form) => {
      await apiUpload(`${path}/files`, new FormData(form));
    },
  );
}
