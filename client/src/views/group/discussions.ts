// /groups/<handle>: the group's discussions (pinned first, then the latest activity), starting one, and how
// the viewer is notified of the group. Kept current by the group's room.
import { html, nothing } from 'lit';
import { data, http, upload, type Thread } from '../../api/api';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { refresher } from '../../refresher';
import { MarkdownEditor } from '../../ui/editor';
import { FileField } from '../../ui/file-field';
import { Action, submitter } from '../../ui/form';
import { when } from '../../ui/html';
import { GroupPage } from './group.page';

type Level = 'all' | 'default' | 'mute';

export const threadPath = (group: string, id: string) =>
  `/groups/${encodeURIComponent(group)}/threads/${encodeURIComponent(id)}`;

/** Files chosen in a form's file input, uploaded as attachments of a post; their ids. */
export async function attach(group: string, input: HTMLInputElement | null): Promise<string[] | undefined> {
  if (!input?.files?.length) return undefined;
  const form = new FormData();
  for (const file of input.files) form.append('files', file);
  const files = await upload('/groups/{group}/attachments', { params: { group }, form });
  return files.map((f) => f.id);
}

export class GroupDiscussionsPage extends GroupPage {
  protected readonly tab = 'discussions' as const;
  private pinned: Thread[] = [];
  private threads: Thread[] = [];
  private nextCursor: string | null = null;
  private level: Level | null = null;
  private readonly levelSaved = new Action(() => this.update());
  private readonly posting = new Action(() => this.update());
  private readonly editor = new MarkdownEditor({
    id: 'new-thread-body',
    name: 'body',
    label: () => t.threads.message,
    update: () => this.update(),
    required: true,
  });
  private readonly files = new FileField({
    id: 'new-thread-files',
    name: 'attachments',
    label: () => t.thread.attach,
    multiple: true,
    update: () => this.update(),
  });
  private readonly refresh = refresher(async () => {
    const page = await data(
      http.GET('/groups/{group}/threads', {
        params: { path: { group: this.handle }, query: { limit: 30 } },
      }),
    );
    this.pinned = page.pinned;
    this.threads = page.items;
    this.nextCursor = page.nextCursor;
    this.update();
  });

  tabTitle() {
    return t.group.discussions;
  }

  protected async loadTab() {
    if (!this.can('read')) return;
    await this.refresh();
    if (this.ctx.me && this.group.viewer.role) {
      const sub = await data(http.GET('/groups/{group}/subscription', this.params));
      this.level = sub.level as Level;
    }
  }

  protected catchUp() {
    return this.refresh();
  }

  protected listen(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    for (const event of [
      'thread.updated',
      'reply.created',
      'post.edited',
      'post.deleted',
      'post.liked',
      'post.unliked',
      'post.confirmed',
    ])
      on(event, () => void this.refresh());
    on('thread.created', async (e) => {
      await this.refresh();
      const created = this.threads.find((th) => th.id === e.threadId);
      if (created && created.author?.handle !== this.ctx.me?.profile.handle)
        this.ctx.announce(t.group.newThreadLive(created.title));
    });
  }

  private async more() {
    if (!this.nextCursor) return;
    const page = await data(
      http.GET('/groups/{group}/threads', {
        params: { path: { group: this.handle }, query: { limit: 30, cursor: this.nextCursor } },
      }),
    );
    this.threads = [...this.threads, ...page.items];
    this.nextCursor = page.nextCursor;
    this.update();
  }

  private async setLevel(level: Level) {
    await this.levelSaved.run(async () => {
      await http.PUT('/groups/{group}/subscription', { ...this.params, body: { level } });
      this.level = level;
    }, t.common.saved);
  }

  private readonly post = submitter(async (fields, form) => {
    const quiet = fields.quiet === 'yes';
    const ok = await this.posting.run(async () => {
      const attachments = await attach(this.handle, form.querySelector<HTMLInputElement>('input[type=file]'));
      await http.POST('/groups/{group}/threads', {
        ...this.params,
        body: {
          title: fields.title ?? '',
          body: this.editor.value,
          ...(attachments ? { attachments } : {}),
          ...(quiet ? { notify: false } : {}),
        },
      });
    });
    if (ok) {
      form.reset();
      this.editor.reset();
      this.files.reset();
      await this.refresh();
    }
  });

  private threadItem(th: Thread) {
    return html`<li class="thread" data-id=${th.id}>
      <div class="thread-title">
        ${th.pinned ? html`<span class="tag">${t.threads.pinned}</span>` : nothing}
        ${th.locked ? html`<span class="tag">${t.threads.locked}</span>` : nothing}
        <a href=${threadPath(this.handle, th.id)}>${th.deleted ? t.thread.removed : th.title}</a>
        ${
          th.pending && this.origin
            ? html`<span class="tag pending">${t.thread.pending(this.origin.host)}</span>`
            : nothing
        }
      </div>
      <p class="muted small">
        ${th.author ? html`${t.threads.by(th.author.displayName)} · ` : nothing}${t.threads.replies(th.replyCount)}
        · ${t.threads.likes(th.likeCount)} · ${when(th.lastActivityAt)}
      </p>
    </li>`;
  }

  private newThreadForm() {
    const mayPostQuietly = ['owner', 'admin'].includes(this.group.viewer.role ?? '');
    return html`<form id="new-thread" class="stack" novalidate @submit=${this.post}>
      <h2>${t.threads.newThread}</h2>
      <gcds-input
        input-id="new-thread-title"
        name="title"
        label=${t.threads.title}
        required
        minlength="3"
        maxlength="200"
      ></gcds-input>
      ${this.editor.template()} ${this.files.template()}
      ${
        mayPostQuietly
          ? html`<div class="checkbox">
              <input type="checkbox" id="new-thread-quiet" name="quiet" value="yes" />
              <label for="new-thread-quiet">${t.threads.postQuietly}</label>
            </div>`
          : nothing
      }
      ${this.posting.feedback()}
      <gcds-button type="submit" ?disabled=${this.posting.busy}>${t.threads.post}</gcds-button>
    </form>`;
  }

  protected renderTab() {
    const all = [...this.pinned, ...this.threads];
    return html`${
        this.level
          ? html`<div class="subscription">
              <gcds-select
                select-id="group-level"
                label=${t.group.notify}
                name="level"
                .value=${this.level}
                @gcdsChange=${(e: CustomEvent<string>) => this.setLevel(e.detail as Level)}
              >
                <option value="all" ?selected=${this.level === 'all'}>${t.group.levelAll}</option>
                <option value="default" ?selected=${this.level === 'default'}>${t.group.levelDefault}</option>
                <option value="mute" ?selected=${this.level === 'mute'}>${t.group.levelMute}</option>
              </gcds-select>
              <p class="form-done" role="status">${this.levelSaved.done || nothing}</p>
            </div>`
          : nothing
      }
      <h2>${t.group.discussions}</h2>
      <ul id="threads" class="threads">
        ${all.length ? all.map((th) => this.threadItem(th)) : html`<li class="muted">${t.threads.none}</li>`}
      </ul>
      ${
        this.nextCursor
          ? html`<gcds-button button-role="secondary" @click=${() => this.more()}
              >${t.common.loadMore}</gcds-button
            >`
          : nothing
      }
      ${this.can('post') ? this.newThreadForm() : nothing}`;
  }
}
