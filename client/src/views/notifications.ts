// /notifications: what happened for me, newest first, live; mark read; how I get notification mail.
import { html, nothing } from 'lit';
import { ApiError, data, http, type Notification } from '../api/api';
import { t } from '../i18n/i18n';
import { Page } from '../router';
import { unread } from '../unread';
import { Action } from '../ui/form';
import { when } from '../ui/html';

type Email = 'immediate' | 'daily' | 'weekly' | 'none';

export class NotificationsPage extends Page {
  private items: Notification[] = [];
  private nextCursor: string | null = null;
  private email: Email | null = null;
  private readonly saving = new Action(() => this.update());

  title() {
    return t.notifications.title;
  }

  async load() {
    if (!this.ctx.me) throw new ApiError(401, null);
    await this.read();
    this.email = (await data(http.GET('/notifications/settings'))).email as Email;
    this.ctx.onLeave(
      unread.onArrival((n) => {
        this.items = [n, ...this.items.filter((i) => i.id !== n.id)];
        this.update();
      }),
    );
  }

  private async read() {
    const page = await data(http.GET('/notifications', { params: { query: { limit: 50 } } }));
    unread.set(page.unread);
    this.items = page.items;
    this.nextCursor = page.nextCursor;
    this.update();
  }

  private async more() {
    if (!this.nextCursor) return;
    const page = await data(
      http.GET('/notifications', {
        params: { query: { limit: 50, cursor: Number(this.nextCursor) } },
      }),
    );
    this.items = [...this.items, ...page.items];
    this.nextCursor = page.nextCursor;
    this.update();
  }

  private async markRead(n: Notification) {
    if (n.read) return;
    n.read = true;
    this.update();
    await http.POST('/notifications/read', { body: { ids: [n.id] } });
    unread.add(-1);
  }

  private async markAll() {
    await http.POST('/notifications/read', { body: { all: true } });
    await this.read();
  }

  private async setEmail(email: Email) {
    await this.saving.run(async () => {
      await http.PUT('/notifications/settings', { body: { email } });
      this.email = email;
    }, t.common.saved);
  }

  static text(n: Notification): string {
    const who = n.actor ? `@${n.actor}` : t.common.someone;
    return (t.notifications.kinds[n.kind] ?? (() => n.kind))(who);
  }

  static href(n: Notification): string {
    if (n.threadId) return `/threads/${n.threadId}`;
    if (n.group) return `/groups/${encodeURIComponent(n.group)}`;
    return '/';
  }

  private item(n: Notification) {
    return html`<li class=${n.read ? 'read' : 'unread'} data-id=${n.id}>
      <a href=${NotificationsPage.href(n)} @click=${() => this.markRead(n)}>${NotificationsPage.text(n)}</a>
      ${n.group ? html`<span class="muted"> ${t.notifications.inGroup(n.group)} · </span>` : ' '}${when(n.createdAt)}
      ${
        n.read
          ? nothing
          : html`<button type="button" class="mark-read link-button" @click=${() => this.markRead(n)}>
              ${t.notifications.markRead}<span class="sr-only">: ${NotificationsPage.text(n)}</span>
            </button>`
      }
    </li>`;
  }

  render() {
    return html`<h1>${t.notifications.title}</h1>
      <p>
        <gcds-button id="mark-all-read" button-role="secondary" @click=${() => this.markAll()}
          >${t.notifications.markAllRead}</gcds-button
        >
      </p>
      <ul id="notifications" class="notifications" aria-live="polite">
        ${
          this.items.length
            ? this.items.map((n) => this.item(n))
            : html`<li class="muted empty">${t.notifications.none}</li>`
        }
      </ul>
      ${
        this.nextCursor
          ? html`<gcds-button button-role="secondary" @click=${() => this.more()}
              >${t.common.loadMore}</gcds-button
            >`
          : nothing
      }
      ${
        this.email
          ? html`<div class="email-settings">
              <gcds-select
                select-id="email-delivery"
                name="email"
                label=${t.notifications.email}
                .value=${this.email}
                @gcdsChange=${(e: CustomEvent<string>) => this.setEmail(e.detail as Email)}
              >
                ${(['immediate', 'daily', 'weekly', 'none'] as const).map(
                  (v) =>
                    html`<option value=${v} ?selected=${this.email === v}>
                      ${{ immediate: t.notifications.emailImmediate, daily: t.notifications.emailDaily, weekly: t.notifications.emailWeekly, none: t.notifications.emailNone }[v]}
                    </option>`,
                )}
              </gcds-select>
              <p class="form-done" role="status">${this.saving.done || nothing}</p>
            </div>`
          : nothing
      }`;
  }
}
