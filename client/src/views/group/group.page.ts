// A group's pages (/groups/<handle>, /files, /members, /reports, /audit, /settings) share this frame: the
// group's heading (banner, avatar, name in the viewer's language, what the viewer may do: join, ask,
// answer an invitation, leave), its sections, and the live activity beside them. The page follows the
// group's room first and reads second, so nothing that happens in between is missed (docs/realtime.md).
import { html, nothing, type TemplateResult } from 'lit';
import { data, http, type Group } from '../../api/api';
import { language, t } from '../../i18n/i18n';
import { live, type LiveEvent } from '../../live';
import { Page } from '../../router';
import { Action } from '../../ui/form';
import { sanitised, when } from '../../ui/html';

export type GroupTab = 'discussions' | 'files' | 'members' | 'reports' | 'audit' | 'settings';

/** Text in the viewer's language when there is one, with the language it is really in (to tag it). */
export function inLanguage(field: { en?: string | undefined; fr?: string | undefined } | undefined) {
  const lang = language();
  const other = lang === 'en' ? 'fr' : 'en';
  if (field?.[lang]) return { text: field[lang]!, lang };
  if (field?.[other]) return { text: field[other]!, lang: other };
  return null;
}

/** A group's name as the viewer reads it: its name in their language, else its name. */
export const groupName = (g: { name: string; names?: { en?: string; fr?: string } }) =>
  inLanguage(g.names)?.text ?? g.name;

/**
 * Whether this node keeps the group's file library (folders, versions): only for a group hosted here. A
 * post's attachments travel between nodes; a library stays on the group's node
 * (docs/adr/0029-attachments-across-nodes.md).
 */
export const libraryHere = (g: Pick<Group, 'node'>) => groupOrigin(g) === null;

/**
 * Where a group lives: the node hosting it (`node` in the API, docs/adr/0016-remote-records.md), or null
 * for a group of this node. A group of another node has the handle `name@host` here, is joined, read and
 * written in exactly as a local one, and shows its origin (docs/adr/0014-web-client.md).
 */
export function groupOrigin(g: Pick<Group, 'node'>): { host: string; url: string } | null {
  return g.node ?? null;
}

/** Where a group lives: this node, or the other node it is hosted on. */
export function originBadge(g: Pick<Group, 'node'>): TemplateResult {
  const origin = groupOrigin(g);
  return html`<span class=${origin ? 'badge origin remote' : 'badge origin'}
    >${origin ? t.group.origin(origin.host) : t.group.local}</span
  >`;
}

/** A group's description in the reader's language when it has one (tagged when in the other). */
export function groupDescription(g: Pick<Group, 'description'>): TemplateResult | typeof nothing {
  const description = inLanguage({ en: g.description.en?.html, fr: g.description.fr?.html });
  return description
    ? html`<div class="body description" lang=${description.lang !== language() ? description.lang : nothing}>
        ${sanitised(description.text)}
      </div>`
    : nothing;
}

const ACTIVITY_SIZE = 10;

export abstract class GroupPage extends Page {
  protected group!: Group;
  protected readonly handle = this.ctx.params.handle!;
  protected abstract readonly tab: GroupTab;
  /** People and files seen, by id, to name them in the live activity (events carry ids only). */
  protected readonly names = new Map<string, string>();
  private activity: { at: string; text: string }[] = [];
  private readonly membership = new Action(() => this.update());
  /** The viewer's request to join was declined while the page was open. */
  private denied = false;

  protected can(what: string): boolean {
    return this.group.viewer.can.includes(what);
  }
  /** The node hosting the group, when it is another one. */
  protected get origin() {
    return groupOrigin(this.group);
  }
  protected get path() {
    return `/groups/${encodeURIComponent(this.handle)}`;
  }
  protected get params() {
    return { params: { path: { group: this.handle } } } as const;
  }

  /** The section's own reads (after the group is read and followed). */
  protected abstract loadTab(): Promise<void>;
  /** The section's own events; `on` listens to this group's events only. */
  protected abstract listen(on: (event: string, handler: (e: LiveEvent) => void) => void): void;
  protected abstract renderTab(): TemplateResult;
  /** Read the section again after a gap Socket.IO could not replay. */
  protected abstract catchUp(): Promise<void>;
  protected abstract tabTitle(): string;

  title() {
    return `${this.tabTitle()} · ${groupName(this.group)}`;
  }

  async load() {
    this.group = await data(http.GET('/groups/{group}', this.params));
    // Listen, follow, then read: whatever happens in between arrives live and the reads include it.
    const on = (event: string, handler: (e: LiveEvent) => void) =>
      this.ctx.onLeave(live.on(event, (e) => e.groupId === this.group.id && handler(e)));
    this.listenToMembers(on);
    this.listen(on);
    if (this.can('read')) {
      this.ctx.onLeave(
        await live.follow({ kind: 'group', group: this.handle }, () => {
          void this.refreshGroup().then(() => this.catchUp());
        }),
      );
      // What changed between the first read and the follow (a member in or out, a join accepted by the
      // group's node) came before the room did: read the group again (the page cache answers it cheaply).
      this.group = await data(http.GET('/groups/{group}', this.params));
    }
    await this.loadTab();
  }

  protected async refreshGroup() {
    this.group = await data(http.GET('/groups/{group}', this.params));
    this.update();
  }

  private isMe(userId: string | undefined) {
    return Boolean(this.ctx.me && userId === this.ctx.me.profile.id);
  }

  private async nameOf(userId: string | undefined): Promise<string> {
    if (!userId) return t.common.someone;
    if (this.isMe(userId)) return this.ctx.me!.profile.displayName;
    if (!this.names.has(userId) && this.can('read')) {
      const page = await data(
        http.GET('/groups/{group}/members', {
          params: { path: { group: this.handle }, query: { limit: 100 } },
        }),
      );
      for (const m of page.items) this.names.set(m.id, m.displayName);
    }
    return this.names.get(userId) ?? t.common.someone;
  }

  /** A line in the live activity (newest first), said to screen readers by its live region. */
  protected note(text: string) {
    this.activity = [{ at: new Date().toISOString(), text }, ...this.activity].slice(0, ACTIVITY_SIZE);
    this.update();
  }

  private listenToMembers(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    on('member.joined', async (e) => {
      // Approved or invited in: what this person may do here has changed.
      if (this.isMe(e.userId)) return this.ctx.reload();
      void this.refreshGroup();
      this.note(t.group.joined(await this.nameOf(e.userId)));
    });
    on('member.left', async (e) => {
      const name = await this.nameOf(e.userId);
      // Removed or banned: what this person may see has changed.
      if (this.isMe(e.userId)) return this.ctx.reload();
      this.note(t.group.left(name, e.reason ?? 'left'));
      void this.refreshGroup();
    });
    // Said to the one who asked only (docs/realtime.md): the page offers to ask again.
    on('member.request_denied', (e) => {
      if (!this.isMe(e.userId)) return;
      this.denied = true;
      this.ctx.announce(t.group.requestDenied);
      void this.refreshGroup();
    });
    on('member.role_changed', async (e) => {
      if (this.isMe(e.userId)) return this.ctx.reload();
      this.note(
        t.group.roleChanged(await this.nameOf(e.userId), t.group.role[e.role as 'member'] ?? e.role ?? ''),
      );
    });
    on('file.uploaded', async (e) => {
      this.note(t.group.fileUploaded(await this.fileName(e.fileId)));
    });
    for (const event of ['file.replaced', 'file.updated', 'file.restored'])
      on(event, async (e) => this.note(t.group.fileChanged(await this.fileName(e.fileId))));
    on('file.deleted', (e) => this.note(t.group.fileChanged(this.names.get(e.fileId ?? ''))));
  }

  private async fileName(fileId: string | undefined): Promise<string | undefined> {
    if (!fileId) return undefined;
    if (!this.names.has(fileId)) {
      try {
        const file = await data(http.GET('/files/{id}', { params: { path: { id: fileId } } }));
        this.names.set(fileId, file.name);
      } catch {
        return undefined;
      }
    }
    return this.names.get(fileId);
  }

  private async act(what: 'join' | 'requests' | 'leave' | 'invitation/accept' | 'invitation/decline') {
    const ok = await this.membership.run(async () => {
      const p = this.params;
      if (what === 'join') await http.POST('/groups/{group}/join', p);
      else if (what === 'requests') await http.POST('/groups/{group}/requests', p);
      else if (what === 'leave') await http.POST('/groups/{group}/leave', p);
      else if (what === 'invitation/accept') await http.POST('/groups/{group}/invitation/accept', p);
      else await http.POST('/groups/{group}/invitation/decline', p);
    });
    if (ok) this.ctx.reload();
  }

  private heading() {
    const g = this.group;
    const name = inLanguage(g.names);
    const origin = groupOrigin(g);
    const v = g.viewer;
    return html`<section id="group-heading" class="group-heading">
      ${g.bannerUrl ? html`<img class="banner" src=${g.bannerUrl} alt="" />` : nothing}
      <div class="title-row">
        ${g.avatarUrl ? html`<img class="avatar large" src=${g.avatarUrl} alt="" width="96" height="96" />` : nothing}
        <div>
          <h1 lang=${name && name.lang !== language() ? name.lang : nothing}>${name?.text ?? g.name}</h1>
          <p class="muted">
            @${g.handle} ·
            <span id="member-count">${t.group.members(g.memberCount)}</span> ·
            ${t.group.visibility[g.visibility]} · ${originBadge(g)}
          </p>
          ${
            origin
              ? html`<p class="small" id="group-origin">
                  ${t.group.hostedOn(origin.host)}
                  <a href=${origin.url} rel="external">${t.group.seeOnNode(origin.host)}</a>
                </p>`
              : nothing
          }
        </div>
      </div>
      ${groupDescription(g)}
      <div class="membership">
        ${
          this.can('join')
            ? html`<gcds-button id="join" @click=${() => this.act('join')}>${t.group.join}</gcds-button>`
            : nothing
        }
        ${
          this.can('request')
            ? html`<gcds-button id="request" @click=${() => this.act('requests')}
                >${t.group.askToJoin}</gcds-button
              >`
            : nothing
        }
        ${
          v.state === 'requested'
            ? html`<p role="status" id="membership-state">
                ${origin && g.joinPolicy === 'open' ? t.group.joining(origin.host) : t.group.requested}
              </p>`
            : nothing
        }
        ${
          this.denied && v.state !== 'requested'
            ? html`<p role="status" id="membership-state">${t.group.requestDenied}</p>`
            : nothing
        }
        ${v.state === 'banned' ? html`<p>${t.group.banned}</p>` : nothing}
        ${
          this.can('respondToInvitation')
            ? html`<div id="invitation" role="status">
                <p>${t.group.invited}</p>
                <gcds-button @click=${() => this.act('invitation/accept')}>${t.group.accept}</gcds-button>
                <gcds-button button-role="secondary" @click=${() => this.act('invitation/decline')}
                  >${t.group.decline}</gcds-button
                >
              </div>`
            : nothing
        }
        ${
          this.can('leave')
            ? html`<gcds-button
                id="leave"
                button-role="secondary"
                size="small"
                @click=${() => this.act('leave')}
                >${t.group.leave}</gcds-button
              >`
            : nothing
        }
        ${this.membership.feedback()}
      </div>
      ${
        v.role && g.welcomeMessage && this.tab === 'discussions'
          ? html`<details class="welcome">
              <summary>${t.group.welcome}</summary>
              <div class="body">${sanitised(g.welcomeMessage.html)}</div>
            </details>`
          : nothing
      }
    </section>`;
  }

  private tabs() {
    const tabs: [GroupTab, string, string, boolean][] = [
      ['discussions', '', t.group.discussions, this.can('read')],
      ['files', '/files', t.group.files, this.can('read')],
      ['members', '/members', t.group.membersTab, this.can('read')],
      ['reports', '/reports', t.group.reports, this.can('moderate')],
      ['audit', '/audit', t.group.audit, this.can('viewAudit')],
      ['settings', '/settings', t.group.settings, this.can('configure')],
    ];
    return html`<nav class="tabs" aria-label=${t.group.tabs}>
      <ul>
        ${tabs
          .filter(([, , , shown]) => shown)
          .map(
            ([tab, suffix, label]) =>
              html`<li>
                <a href=${`${this.path}${suffix}`} aria-current=${tab === this.tab ? 'page' : nothing}
                  >${label}</a
                >
              </li>`,
          )}
      </ul>
    </nav>`;
  }

  render() {
    return html`${this.heading()} ${this.can('read') || this.tab === 'settings' ? this.tabs() : nothing}
      <div class="group-layout">
        <div class="group-main">
          ${this.can('read') || this.tab === 'settings' ? this.renderTab() : nothing}
        </div>
        ${
          this.can('read')
            ? html`<aside class="activity" aria-labelledby="activity-heading">
                <h2 id="activity-heading">${t.group.activity}</h2>
                <ul id="activity" aria-live="polite">
                  ${this.activity.map((a) => html`<li>${when(a.at)} ${a.text}</li>`)}
                </ul>
                ${this.activity.length ? nothing : html`<p class="muted">${t.group.noActivity}</p>`}
              </aside>`
            : nothing
        }
      </div>`;
  }
}
