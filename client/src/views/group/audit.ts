// /groups/<handle>/audit (the group's admins): who did what to whom, newest first.
import { html } from 'lit';
import { ApiError, data, http, type AuditEntry } from '../../api/api';
import { dateTime } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { GroupPage } from './group.page';

export class GroupAuditPage extends GroupPage {
  protected readonly tab = 'audit' as const;
  private entries: AuditEntry[] = [];

  tabTitle() {
    return t.audit.title;
  }

  private async read() {
    this.entries = await data(
      http.GET('/groups/{group}/audit', {
        params: { path: { group: this.handle }, query: { limit: 200 } },
      }),
    );
    this.update();
  }

  protected async loadTab() {
    if (!this.can('viewAudit')) throw new ApiError(this.can('read') ? 403 : 404, null);
    await this.read();
  }

  protected catchUp() {
    return this.read();
  }

  protected listen(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    for (const event of [
      'member.joined',
      'member.left',
      'member.role_changed',
      'thread.updated',
      'post.deleted',
    ])
      on(event, () => void this.read());
  }

  private person(p: { handle: string; displayName: string } | null) {
    return p ? html`<a href=${`/people/${encodeURIComponent(p.handle)}`}>${p.displayName}</a>` : t.app.name;
  }

  private detail(e: AuditEntry): string {
    const d = e.detail;
    const parts: string[] = [];
    for (const key of ['role', 'reason', 'note', 'email', 'fields'] as const) {
      const v = d[key];
      if (v === undefined || v === '' || v === null) continue;
      parts.push(Array.isArray(v) ? v.join(', ') : String(v));
    }
    return parts.join(' · ');
  }

  protected renderTab() {
    if (!this.entries.length)
      return html`<h2>${t.audit.title}</h2>
        <p class="muted">${t.audit.none}</p>`;
    return html`<h2>${t.audit.title}</h2>
      <table id="audit" class="audit">
        <caption class="sr-only">
          ${t.audit.title}
        </caption>
        <thead>
          <tr>
            <th scope="col">${t.audit.when}</th>
            <th scope="col">${t.audit.who}</th>
            <th scope="col">${t.audit.what}</th>
            <th scope="col">${t.audit.target}</th>
            <th scope="col">${t.audit.details}</th>
          </tr>
        </thead>
        <tbody>
          ${this.entries.map(
            (e) =>
              html`<tr data-action=${e.action}>
                <td><time datetime=${e.at}>${dateTime(e.at)}</time></td>
                <td>${this.person(e.actor)}</td>
                <td>${t.audit.actions[e.action] ?? e.action}</td>
                <td>${e.target ? this.person(e.target) : ''}</td>
                <td>${this.detail(e)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`;
  }
}
