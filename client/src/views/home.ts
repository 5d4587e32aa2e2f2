// /: for a visitor, what Ensemble is, how to sign in, and the public groups; for a signed-in person, the
// recent activity across their groups (the feed), their groups, invitations waiting, their unread
// notifications, starting a group, and the groups of the node. Arriving notifications refresh the feed
// and the invitations.
import { html, nothing } from 'lit';
import { date } from '../i18n/format';
import { data, http, type FeedItem, type Group, type GroupInput } from '../api/api';
import { t } from '../i18n/i18n';
import { navigate, Page } from '../router';
import { unread } from '../unread';
import { Action, submitter } from '../ui/form';
import { when } from '../ui/html';
import { groupName } from './group/group.page';
import { threadPath } from './group/discussions';
import { groupList } from './groups';

export class HomePage extends Page {
  private all: Group[] = [];
  private mine: Group[] = [];
  private invited: Group[] = [];
  private deleted: Group[] = [];
  private readonly restoring = new Action(() => this.update());
  private feed: FeedItem[] = [];
  private readonly creating = new Action(() => this.update());

  title() {
    return t.home.title;
  }

  async load() {
    const list = (scope: 'all' | 'mine' | 'invited' | 'deleted') =>
      data(http.GET('/groups', { params: { query: { scope, limit: 50 } } })).then((p) => p.items);
    if (!this.ctx.me) {
      this.all = await list('all');
      return;
    }
    [this.all, this.mine, this.invited, this.deleted] = await Promise.all([
      list('all'),
      list('mine'),
      list('invited'),
      list('deleted'),
    ]);
    await this.readFeed();
    this.ctx.onLeave(
      unread.onArrival(async (n) => {
        if (n.kind === 'invitation') this.invited = await list('invited');
        await this.readFeed();
      }),
    );
    this.ctx.onLeave(unread.onChange(() => this.update()));
  }

  private async readFeed() {
    this.feed = (await data(http.GET('/feed', { params: { query: { limit: 15 } } }))).items;
    this.update();
  }

  private readonly create = submitter(async (f) => {
    const en = f.nameEn ?? '';
    const fr = f.nameFr ?? '';
    if (!en && !fr) {
      this.creating.error = t.create.nameMissing;
      this.update();
      return;
    }
    const body: GroupInput = {
      handle: f.handle ?? '',
      name: en || fr,
      names: { ...(en ? { en } : {}), ...(fr ? { fr } : {}) },
      visibility: f.visibility as GroupInput['visibility'],
      joinPolicy: f.joinPolicy as GroupInput['joinPolicy'],
    };
    const ok = await this.creating.run(() => http.POST('/groups', { body }));
    if (ok) navigate(`/groups/${encodeURIComponent(body.handle)}`);
  });

  private async restore(g: Group) {
    const ok = await this.restoring.run(() =>
      http.POST('/groups/{group}/restore', { params: { path: { group: g.handle } } }),
    );
    if (ok) navigate(`/groups/${encodeURIComponent(g.handle)}`);
  }

  private deletedGroups() {
    if (!this.deleted.length) return nothing;
    return html`<section aria-labelledby="deleted-heading">
      <h2 id="deleted-heading">${t.settings.deletedGroups}</h2>
      <p class="hint">${t.group.deletedHelp}</p>
      ${this.restoring.feedback()}
      <ul id="deleted-groups">
        ${this.deleted.map(
          (g) =>
            html`<li data-handle=${g.handle}>
              ${groupName(g)}
              <span class="muted">${g.deletedAt ? t.group.deleted(date(g.deletedAt)) : ''}</span>
              <gcds-button size="small" button-role="secondary" @click=${() => this.restore(g)}
                >${t.common.restore}<span class="sr-only"> ${groupName(g)}</span></gcds-button
              >
            </li>`,
        )}
      </ul>
    </section>`;
  }

  private feedItem(item: FeedItem) {
    if (item.kind === 'thread') {
      const th = item.thread;
      return html`<li>
        <a href=${threadPath(th.group, th.id)}>${th.title}</a>
        <p class="muted small">
          ${t.home.startedThread(th.author?.displayName ?? t.common.someone, th.group)} ·
          ${when(th.createdAt)}
        </p>
      </li>`;
    }
    const r = item.reply;
    return html`<li>
      <a href=${`/threads/${r.threadId}`}>${item.threadTitle}</a>
      <p class="muted small">
        ${t.home.replied(r.author?.displayName ?? t.common.someone, item.threadTitle)} · ${when(r.createdAt)}
      </p>
    </li>`;
  }

  private startGroupForm() {
    return html`<details class="start-group" ?open=${Boolean(this.creating.error)}>
      <summary>${t.create.open}</summary>
      <form id="start-group" class="stack" novalidate @submit=${this.create}>
        <h2>${t.create.title}</h2>
        <p class="hint">${t.create.nameHint}</p>
        <gcds-input
          input-id="group-name-en"
          name="nameEn"
          label=${t.create.nameEn}
          maxlength="120"
        ></gcds-input>
        <gcds-input
          input-id="group-name-fr"
          name="nameFr"
          label=${t.create.nameFr}
          maxlength="120"
        ></gcds-input>
        <gcds-input
          input-id="group-handle"
          name="handle"
          label=${t.create.handle}
          hint=${t.create.handleHint}
          required
          pattern="[a-z0-9][a-z0-9\\-]{1,62}"
        ></gcds-input>
        <gcds-select
          select-id="group-visibility"
          name="visibility"
          label=${t.create.visibility}
          value="public"
        >
          <option value="public">${t.group.visibility.public}</option>
          <option value="node">${t.group.visibility.node}</option>
          <option value="members">${t.group.visibility.members}</option>
        </gcds-select>
        <gcds-select select-id="group-join" name="joinPolicy" label=${t.create.joinPolicy} value="open">
          <option value="open">${t.group.joinPolicy.open}</option>
          <option value="request">${t.group.joinPolicy.request}</option>
          <option value="invite">${t.group.joinPolicy.invite}</option>
        </gcds-select>
        ${this.creating.feedback()}
        <gcds-button type="submit">${t.create.submit}</gcds-button>
      </form>
    </details>`;
  }

  render() {
    const { me } = this.ctx;
    if (!me)
      return html`<h1>${t.app.name}</h1>
        <p class="lead">${t.home.welcome}</p>
        <p><gcds-button type="link" href="/signin">${t.app.signIn}</gcds-button></p>
        <h2>${t.home.allGroups}</h2>
        ${groupList(this.all, 'all-groups')}`;
    return html`<h1>${t.home.title}</h1>
      <div class="two-columns">
        <div>
          <section aria-labelledby="feed-heading">
            <h2 id="feed-heading">${t.home.feed}</h2>
            ${
              this.feed.length
                ? html`<ul class="feed" id="feed">
                    ${this.feed.map((i) => this.feedItem(i))}
                  </ul>`
                : html`<p class="muted">${t.home.noFeed}</p>`
            }
          </section>
          <section aria-labelledby="mine-heading">
            <h2 id="mine-heading">${t.home.yourGroups}</h2>
            ${groupList(this.mine, 'my-groups')}
          </section>
          ${this.startGroupForm()} ${this.deletedGroups()}
        </div>
        <div>
          <section aria-labelledby="invitations-heading">
            <h2 id="invitations-heading">${t.home.invitations}</h2>
            ${
              this.invited.length
                ? html`<ul id="invitations">
                    ${this.invited.map(
                      (g) =>
                        html`<li>
                          <a href=${`/groups/${encodeURIComponent(g.handle)}`}>${groupName(g)}</a>
                        </li>`,
                    )}
                  </ul>`
                : html`<p class="muted">${t.home.noInvitations}</p>`
            }
          </section>
          <section aria-labelledby="unread-heading">
            <h2 id="unread-heading">${t.app.notifications}</h2>
            <p>${t.home.unreadNotifications(unread.count)}</p>
            <p><a href="/notifications">${t.home.seeNotifications}</a></p>
          </section>
          <section aria-labelledby="all-heading">
            <h2 id="all-heading">${t.home.allGroups}</h2>
            ${groupList(this.all, 'all-groups')}
          </section>
        </div>
      </div>`;
  }
}
