// /groups/<handle>/reports (moderators): the report queue. Each report shows the reported post (read
// through the API with the moderator's rights), the reason, and the two decisions: dismiss it, or remove
// the post (a tombstone with the note as the author's reason). Resolved reports are listed by outcome.
import { html, nothing } from 'lit';
import { ApiError, data, http, type Reply, type Report, type Thread } from '../../api/api';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { refresher } from '../../refresher';
import { Action, submitter } from '../../ui/form';
import { sanitised, when } from '../../ui/html';
import { threadPath } from './discussions';
import { GroupPage } from './group.page';

type ReportState = 'open' | 'dismissed' | 'removed';

export class GroupReportsPage extends GroupPage {
  protected readonly tab = 'reports' as const;
  private state: ReportState = 'open';
  private reports: Report[] = [];
  private readonly targets = new Map<string, Thread | Reply | null>();
  private readonly result = new Action(() => this.update());

  tabTitle() {
    return t.reports.title;
  }

  private readonly refresh = refresher(async () => {
    this.reports = await data(
      http.GET('/groups/{group}/reports', {
        params: { path: { group: this.handle }, query: { state: this.state } },
      }),
    );
    await Promise.all(
      this.reports.map(async (r) => {
        if (this.targets.has(r.targetId)) return;
        try {
          const path = { params: { path: { id: r.targetId } } };
          this.targets.set(
            r.targetId,
            r.kind === 'thread'
              ? await data(http.GET('/threads/{id}', path))
              : await data(http.GET('/replies/{id}', path)),
          );
        } catch {
          this.targets.set(r.targetId, null);
        }
      }),
    );
    this.update();
  });

  protected async loadTab() {
    if (!this.can('moderate')) throw new ApiError(this.can('read') ? 403 : 404, null);
    await this.refresh();
  }

  protected catchUp() {
    return this.refresh();
  }

  protected listen(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    on('post.deleted', (e) => {
      if (e.id) this.targets.delete(e.id);
      void this.refresh();
    });
  }

  private async show(state: ReportState) {
    this.state = state;
    await this.refresh();
  }

  private resolve(r: Report, decision: 'dismiss' | 'remove') {
    return submitter(async (f) => {
      const ok = await this.result.run(
        () =>
          http.POST('/groups/{group}/reports/{report}/resolve', {
            params: { path: { group: this.handle, report: r.id } },
            body: { decision, note: f.note ?? '' },
          }),
        t.reports.resolved,
      );
      if (ok) {
        this.targets.delete(r.targetId);
        await this.refresh();
      }
    });
  }

  private target(r: Report) {
    const post = this.targets.get(r.targetId);
    if (!post) return html`<p class="muted">${t.reports.gone}</p>`;
    const threadId = 'threadId' in post ? post.threadId : post.id;
    return html`<blockquote class="reported">
        ${'title' in post ? html`<p><strong>${post.title}</strong></p>` : nothing}
        ${
          post.deleted
            ? html`<p class="muted">
                ${post.deleted.byModerator ? t.thread.removedByModerator : t.thread.removed}
              </p>`
            : html`<div class="body">${sanitised(post.body?.html)}</div>`
        }
        <footer class="muted small">
          ${post.author ? `${post.author.displayName} (@${post.author.handle})` : ''}
        </footer>
      </blockquote>
      <p><a href=${threadPath(this.handle, threadId)}>${t.reports.see}</a></p>`;
  }

  private report(r: Report) {
    return html`<li class="report" data-id=${r.id}>
      <h3>${t.reports.reported(r.kind, '')}${when(r.createdAt)}</h3>
      <p>${t.reports.reason(r.reason)}</p>
      ${this.target(r)}
      ${
        r.state === 'open'
          ? html`<form
              class="stack resolve"
              novalidate
              @submit=${(e: SubmitEvent) => {
                const decision =
                  (e.submitter as HTMLButtonElement | null)?.value === 'remove' ? 'remove' : 'dismiss';
                this.resolve(r, decision)(e);
              }}
            >
              <gcds-input
                input-id=${`note-${r.id}`}
                name="note"
                label=${t.reports.note}
                maxlength="1000"
              ></gcds-input>
              <div class="actions">
                <gcds-button type="submit" name="decision" value="dismiss" button-role="secondary"
                  >${t.reports.dismiss}</gcds-button
                >
                <gcds-button type="submit" name="decision" value="remove" button-role="danger"
                  >${t.reports.removePost}</gcds-button
                >
              </div>
            </form>`
          : html`<p class="muted">${r.note ?? ''}</p>`
      }
    </li>`;
  }

  protected renderTab() {
    const states: ReportState[] = ['open', 'dismissed', 'removed'];
    return html`<h2>${t.reports.title}</h2>
      <div class="segmented" role="group" aria-label=${t.reports.title}>
        ${states.map(
          (s) =>
            html`<button
              type="button"
              aria-pressed=${this.state === s ? 'true' : 'false'}
              @click=${() => this.show(s)}
            >
              ${{ open: t.reports.open, dismissed: t.reports.dismissed, removed: t.reports.removed }[s]}
            </button>`,
        )}
      </div>
      ${this.result.feedback()}
      <ul id="reports" class="reports">
        ${this.reports.length ? this.reports.map((r) => this.report(r)) : html`<li class="muted">${t.reports.none}</li>`}
      </ul>`;
  }
}
