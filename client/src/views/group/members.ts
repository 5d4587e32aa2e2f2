// /groups/<handle>/members: who is in the group and their roles; for moderators the join requests; for
// admins role changes, removal, bans, invitations (by short name or email) and the waiting invitations;
// for the owner, making someone admin and transferring ownership. Kept current by the group's room (and,
// for requests, by the moderator's own join.request notification).
import { html, nothing } from 'lit';
import { data, http, type Member } from '../../api/api';
import { date } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { refresher } from '../../refresher';
import { unread } from '../../unread';
import { confirmDialog } from '../../ui/dialog';
import { Action, submitter } from '../../ui/form';
import { GroupPage } from './group.page';

type State = 'active' | 'requested' | 'invited' | 'banned';
type SettableRole = 'admin' | 'moderator' | 'member';

export class GroupMembersPage extends GroupPage {
  protected readonly tab = 'members' as const;
  private lists: Record<State, Member[]> = { active: [], requested: [], invited: [], banned: [] };
  private readonly result = new Action(() => this.update());
  private readonly inviting = new Action(() => this.update());
  private readonly transferring = new Action(() => this.update());

  tabTitle() {
    return t.members.title;
  }

  private readonly refresh = refresher(async () => {
    const read = async (state: State) =>
      (
        await data(
          http.GET('/groups/{group}/members', {
            params: { path: { group: this.handle }, query: { state, limit: 100 } },
          }),
        )
      ).items;
    const states: State[] = ['active'];
    if (this.can('moderate')) states.push('requested');
    if (this.can('manageMembers')) states.push('invited', 'banned');
    const lists = await Promise.all(states.map(read));
    states.forEach((s, i) => (this.lists[s] = lists[i]!));
    for (const m of this.lists.active) this.names.set(m.id, m.displayName);
    this.update();
  });

  protected async loadTab() {
    await this.refresh();
    // A moderator hears of a new request through their own notification.
    this.ctx.onLeave(
      unread.onArrival((n) => {
        if (n.kind === 'join.request' && n.group === this.handle) void this.refresh();
      }),
    );
  }

  protected catchUp() {
    return this.refresh();
  }

  protected listen(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    for (const event of ['member.joined', 'member.left', 'member.role_changed'])
      on(event, () => void this.refresh());
  }

  private person(handle: string) {
    return { params: { path: { group: this.handle, person: handle } } };
  }

  private async decide(m: Member, approve: boolean) {
    await this.result.run(async () => {
      if (approve) await http.POST('/groups/{group}/requests/{person}/approve', this.person(m.handle));
      else await http.POST('/groups/{group}/requests/{person}/deny', this.person(m.handle));
      await this.refresh();
    });
  }

  private async setRole(m: Member, role: SettableRole) {
    await this.result.run(
      async () => {
        await http.PUT('/groups/{group}/members/{person}/role', {
          ...this.person(m.handle),
          body: { role },
        });
        await this.refresh();
      },
      t.members.roleChanged(m.displayName, t.group.role[role]),
    );
  }

  private async removeMember(m: Member) {
    if (!(await confirmDialog(t.members.confirmRemove(m.displayName), t.members.removeMember))) return;
    await this.result.run(async () => {
      await http.DELETE('/groups/{group}/members/{person}', this.person(m.handle));
      await this.refresh();
    });
  }

  private ban(m: Member) {
    return submitter(async (f) => {
      if (!(await confirmDialog(t.members.confirmBan(m.displayName), t.members.ban))) return;
      await this.result.run(async () => {
        await http.PUT('/groups/{group}/bans/{person}', {
          ...this.person(m.handle),
          body: { reason: f.reason ?? '' },
        });
        await this.refresh();
      });
    });
  }

  private async unban(m: Member) {
    await this.result.run(async () => {
      await http.DELETE('/groups/{group}/bans/{person}', this.person(m.handle));
      await this.refresh();
    });
  }

  private readonly invite = submitter(async (f, form) => {
    const who = (f.person ?? '').trim();
    const email = /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(who);
    const ok = await this.inviting.run(
      async () => {
        await http.POST('/groups/{group}/invitations', {
          ...this.params,
          body: email ? { email: who } : { person: who.replace(/^@/, '') },
        });
        await this.refresh();
      },
      t.members.invitationSent(email ? who : who.replace(/^@/, '')),
    );
    if (ok) form.reset();
  });

  private readonly transfer = submitter(async (f) => {
    const to = this.lists.active.find((m) => m.handle === f.to);
    if (!to || !(await confirmDialog(t.members.confirmTransfer(to.displayName), t.members.transfer))) return;
    const ok = await this.transferring.run(
      () => http.POST('/groups/{group}/transfer', { ...this.params, body: { to: to.handle } }),
      t.members.transferred(to.displayName),
    );
    if (ok) this.ctx.reload();
  });

  private memberRow(m: Member) {
    const me = this.ctx.me?.profile.id === m.id;
    const owner = this.group.viewer.role === 'owner';
    const manage = this.can('manageMembers') && !me && m.role !== 'owner';
    // Admins set members and moderators; only the owner makes or unmakes admins.
    const mayChangeRole = manage && (m.role !== 'admin' || owner);
    const roles: SettableRole[] = owner ? ['member', 'moderator', 'admin'] : ['member', 'moderator'];
    return html`<li data-handle=${m.handle}>
      <div class="member">
        <a href=${`/people/${encodeURIComponent(m.handle)}`}>${m.displayName}</a>
        <span class="muted">@${m.handle} ${me ? t.members.you : ''}</span>
        <span class="badge role">${t.group.roleTitle[m.role]}</span>
        <span class="muted small">${t.members.since(date(m.since))}</span>
      </div>
      ${
        mayChangeRole || manage
          ? html`<div class="member-actions" role="group" aria-label=${t.members.actions(m.displayName)}>
              ${
                mayChangeRole
                  ? html`<gcds-select
                      select-id=${`role-${m.handle}`}
                      name="role"
                      label=${t.members.changeRole(m.displayName)}
                      .value=${m.role}
                      @gcdsChange=${(e: CustomEvent<string>) => this.setRole(m, e.detail as SettableRole)}
                    >
                      ${roles.map((r) => html`<option value=${r} ?selected=${m.role === r}>${t.group.roleTitle[r]}</option>`)}
                    </gcds-select>`
                  : nothing
              }
              ${
                manage
                  ? html`<gcds-button
                        button-role="secondary"
                        size="small"
                        class="remove-member"
                        @click=${() => this.removeMember(m)}
                        >${t.members.removeMember}</gcds-button
                      >
                      <details class="ban">
                        <summary>${t.members.ban}</summary>
                        <form class="stack" novalidate @submit=${this.ban(m)}>
                          <gcds-input
                            input-id=${`ban-${m.handle}`}
                            name="reason"
                            label=${t.members.banReason}
                            maxlength="500"
                          ></gcds-input>
                          <gcds-button type="submit" button-role="danger" size="small"
                            >${t.members.ban}</gcds-button
                          >
                        </form>
                      </details>`
                  : nothing
              }
            </div>`
          : nothing
      }
    </li>`;
  }

  protected renderTab() {
    const { active, requested, invited, banned } = this.lists;
    const owner = this.group.viewer.role === 'owner';
    return html`<h2>${t.members.title}</h2>
      ${this.result.feedback()}
      <ul id="members" class="members">
        ${active.map((m) => this.memberRow(m))}
      </ul>
      ${
        this.can('moderate')
          ? html`<section aria-labelledby="requests-heading">
              <h2 id="requests-heading">${t.members.requests}</h2>
              <ul id="join-requests" aria-live="polite">
                ${
                  requested.length
                    ? requested.map(
                        (m) =>
                          html`<li data-handle=${m.handle}>
                            ${m.displayName} (@${m.handle})
                            <gcds-button size="small" @click=${() => this.decide(m, true)}
                              >${t.members.approve}</gcds-button
                            >
                            <gcds-button
                              size="small"
                              button-role="secondary"
                              @click=${() => this.decide(m, false)}
                              >${t.members.deny}</gcds-button
                            >
                          </li>`,
                      )
                    : html`<li class="muted">${t.members.noRequests}</li>`
                }
              </ul>
            </section>`
          : nothing
      }
      ${
        this.can('manageMembers')
          ? html`<section aria-labelledby="invite-heading">
                <h2 id="invite-heading">${t.members.invite}</h2>
                <form id="invite" class="stack" novalidate @submit=${this.invite}>
                  <gcds-input
                    input-id="invite-person"
                    name="person"
                    label=${t.members.inviteWho}
                    hint=${t.members.inviteHint}
                    required
                    maxlength="254"
                  ></gcds-input>
                  ${this.inviting.feedback()}
                  <gcds-button type="submit">${t.members.sendInvitation}</gcds-button>
                </form>
              </section>
              <section aria-labelledby="invited-heading">
                <h2 id="invited-heading">${t.members.invitations}</h2>
                <ul id="invited">
                  ${
                    invited.length
                      ? invited.map((m) => html`<li>${m.displayName} (@${m.handle})</li>`)
                      : html`<li class="muted">${t.members.noInvitations}</li>`
                  }
                </ul>
              </section>
              <section aria-labelledby="bans-heading">
                <h2 id="bans-heading">${t.members.bans}</h2>
                <ul id="bans">
                  ${
                    banned.length
                      ? banned.map(
                          (m) =>
                            html`<li data-handle=${m.handle}>
                              ${m.displayName} (@${m.handle})
                              <gcds-button size="small" button-role="secondary" @click=${() => this.unban(m)}
                                >${t.members.unban}</gcds-button
                              >
                            </li>`,
                        )
                      : html`<li class="muted">${t.members.noBans}</li>`
                  }
                </ul>
              </section>`
          : nothing
      }
      ${
        owner && active.length > 1
          ? html`<section aria-labelledby="transfer-heading">
              <h2 id="transfer-heading">${t.members.transfer}</h2>
              <p class="hint">${t.members.transferHelp}</p>
              <form id="transfer" class="stack" novalidate @submit=${this.transfer}>
                <gcds-select select-id="transfer-to" name="to" label=${t.members.transferTo} required>
                  <option value=""></option>
                  ${active
                    .filter((m) => m.role !== 'owner')
                    .map((m) => html`<option value=${m.handle}>${m.displayName} (@${m.handle})</option>`)}
                </gcds-select>
                ${this.transferring.feedback()}
                <gcds-button type="submit" button-role="danger">${t.members.transfer}</gcds-button>
              </form>
            </section>`
          : nothing
      }`;
  }
}
