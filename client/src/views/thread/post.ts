// One post of a thread page (the thread itself or a reply): its author and time, its body, attachments
// (images previewed, every file downloadable), likes, and what the viewer may do with it: edit or delete
// their own, report someone else's, remove it with a reason (moderators). Changes reach every open page
// through live events; the page redraws the post then.
import { html, nothing } from 'lit';
import { http, type Attachment, type Reply, type Thread } from '../../api/api';
import { bytes } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import { live } from '../../live';
import { confirmDialog } from '../../ui/dialog';
import { MarkdownEditor } from '../../ui/editor';
import { Action, submitter } from '../../ui/form';
import { sanitised, when } from '../../ui/html';

export type Post = (Thread & { kind: 'threads' }) | (Reply & { kind: 'replies' });

export interface PostContext {
  me: { handle: string } | null;
  canPost: boolean;
  moderator: boolean;
  /** The host of the node hosting the group, when it is another node (its posts are confirmed there). */
  origin: string | null;
  update: () => void;
  /** Read the post again (without a live connection the event that would redraw it never comes). */
  refresh: (post: Post) => Promise<void>;
}

export function attachments(list: Attachment[]) {
  if (!list.length) return nothing;
  return html`<section class="attachments" aria-label=${t.thread.attachments}>
    <ul>
      ${list.map(
        (a) =>
          html`<li>
            ${
              a.thumbnailUrl && a.contentType.startsWith('image/')
                ? html`<img
                    class="thumbnail"
                    src=${a.thumbnailUrl}
                    alt=${t.files.preview(a.name)}
                    loading="lazy"
                    @error=${(e: Event) => ((e.target as HTMLElement).hidden = true)}
                  />`
                : nothing
            }
            ${
              a.unavailable
                ? html`<span class="unavailable">${t.thread.unavailable(a.name, a.unavailable)}</span>`
                : html`<a href=${a.url} download=${a.name}>${t.thread.download(a.name, bytes(a.size))}</a>`
            }
          </li>`,
      )}
    </ul>
  </section>`;
}

/** The per-post state of a thread page: which post is being edited, reported or removed. */
export class PostActions {
  private editing: string | null = null;
  private reporting: string | null = null;
  private readonly editor = new MarkdownEditor({
    id: 'edit-body',
    name: 'body',
    label: () => t.threads.message,
    update: () => this.ctx.update(),
    required: true,
  });
  private readonly results = new Map<string, Action>();

  constructor(private readonly ctx: PostContext) {}

  private action(post: Post): Action {
    let a = this.results.get(post.id);
    if (!a) this.results.set(post.id, (a = new Action(() => this.ctx.update())));
    return a;
  }

  private mine(post: Post) {
    return Boolean(this.ctx.me && post.author?.handle === this.ctx.me.handle);
  }

  private async like(post: Post) {
    await this.action(post).run(async () => {
      const path = { params: { path: { id: post.id } } };
      if (post.kind === 'threads') {
        if (post.likedByMe) await http.DELETE('/threads/{id}/like', path);
        else await http.PUT('/threads/{id}/like', path);
      } else if (post.likedByMe) await http.DELETE('/replies/{id}/like', path);
      else await http.PUT('/replies/{id}/like', path);
      // Its live post.liked / post.unliked event redraws it; without a connection, read it now.
      if (!live.socket.connected) await this.ctx.refresh(post);
    });
  }

  private async remove(post: Post, reason?: string) {
    if (!reason && !(await confirmDialog(t.thread.confirmDelete, t.thread.deletePost))) return;
    await this.action(post).run(async () => {
      const init = { params: { path: { id: post.id } }, body: reason ? { reason } : {} };
      if (post.kind === 'threads') await http.DELETE('/threads/{id}', init);
      else await http.DELETE('/replies/{id}', init);
      if (!live.socket.connected) await this.ctx.refresh(post);
    });
  }

  private startEdit(post: Post) {
    this.editing = post.id;
    this.editor.value = post.body?.markdown ?? '';
    this.ctx.update();
    this.editor.focus();
  }

  private saveEdit(post: Post) {
    return submitter(async (fields) => {
      const ok = await this.action(post).run(async () => {
        const path = { params: { path: { id: post.id } } };
        if (post.kind === 'threads')
          await http.PATCH('/threads/{id}', {
            ...path,
            body: { title: fields.title ?? post.title, body: this.editor.value },
          });
        else await http.PATCH('/replies/{id}', { ...path, body: { body: this.editor.value } });
        await this.ctx.refresh(post);
      });
      if (ok) {
        this.editing = null;
        this.ctx.update();
      }
    });
  }

  private report(post: Post) {
    return submitter(async (fields, form) => {
      const ok = await this.action(post).run(async () => {
        const init = { params: { path: { id: post.id } }, body: { reason: fields.reason ?? '' } };
        if (post.kind === 'threads') await http.POST('/threads/{id}/reports', init);
        else await http.POST('/replies/{id}/reports', init);
      }, t.thread.reportSent);
      if (ok) {
        form.reset();
        this.reporting = null;
        this.ctx.update();
      }
    });
  }

  byline(post: Post) {
    return html`<p class="muted byline">
      ${
        post.author
          ? html`<a href=${`/people/${encodeURIComponent(post.author.handle)}`}>${post.author.displayName}</a>
              <span class="handle">@${post.author.handle}</span> · `
          : nothing
      }${when(post.createdAt)}${post.editedAt ? html` · ${t.thread.edited}` : nothing}
      ${
        // Written here into a group of another node: shown at once, marked until that node announces it.
        post.pending && this.ctx.origin
          ? html` · <span class="tag pending">${t.thread.pending(this.ctx.origin)}</span>`
          : nothing
      }
      ${
        post.url
          ? html` · <a href=${post.url} rel="external">${t.thread.original(new URL(post.url).host)}</a>`
          : nothing
      }
    </p>`;
  }

  body(post: Post) {
    if (post.deleted)
      return html`<p class="muted removed">
        ${post.deleted.byModerator ? t.thread.removedByModerator : t.thread.removed}
      </p>`;
    if (this.editing === post.id)
      return html`<form class="stack edit-form" novalidate @submit=${this.saveEdit(post)}>
        ${
          post.kind === 'threads'
            ? html`<gcds-input
                input-id="edit-title"
                name="title"
                label=${t.threads.title}
                required
                minlength="3"
                maxlength="200"
                value=${post.title}
              ></gcds-input>`
            : nothing
        }
        ${this.editor.template()}
        <div class="actions">
          <gcds-button type="submit">${t.thread.saveEdit}</gcds-button>
          <gcds-button
            type="button"
            button-role="secondary"
            @click=${() => {
              this.editing = null;
              this.ctx.update();
            }}
            >${t.common.cancel}</gcds-button
          >
        </div>
      </form>`;
    return html`<div class="body">${sanitised(post.body?.html)}</div>
      ${attachments(post.attachments)}`;
  }

  /** Like, edit, delete, report, remove: what this viewer may do with the post. */
  controls(post: Post, extra: unknown = nothing) {
    if (post.deleted) return html`<span class="muted likes">${t.threads.likes(post.likeCount)}</span>`;
    const mine = this.mine(post);
    const a = this.action(post);
    return html`<div class="post-controls">
      ${
        this.ctx.me && this.ctx.canPost
          ? html`<button
              type="button"
              class="like"
              aria-pressed=${post.likedByMe ? 'true' : 'false'}
              @click=${() => this.like(post)}
            >
              ${post.likedByMe ? t.thread.unlike : t.thread.like} · ${t.threads.likes(post.likeCount)}
            </button>`
          : html`<span class="muted likes">${t.threads.likes(post.likeCount)}</span>`
      }
      ${extra}
      ${
        mine && this.editing !== post.id
          ? html`<button type="button" class="edit" @click=${() => this.startEdit(post)}>
              ${t.thread.editPost}
            </button>`
          : nothing
      }
      ${
        mine
          ? html`<button type="button" class="delete" @click=${() => this.remove(post)}>
              ${t.thread.deletePost}
            </button>`
          : nothing
      }
      ${
        this.ctx.me && !mine
          ? html`<details class="report" ?open=${this.reporting === post.id}>
              <summary
                @click=${(e: Event) => {
                  e.preventDefault();
                  this.reporting = this.reporting === post.id ? null : post.id;
                  this.ctx.update();
                }}
              >
                ${t.thread.report}
              </summary>
              <form class="stack" novalidate @submit=${this.report(post)}>
                <gcds-input
                  input-id=${`report-${post.id}`}
                  name="reason"
                  label=${t.thread.reportReason}
                  required
                  minlength="3"
                  maxlength="1000"
                ></gcds-input>
                <gcds-button type="submit" button-role="secondary" size="small"
                  >${t.thread.report}</gcds-button
                >
              </form>
            </details>`
          : nothing
      }
      ${
        this.ctx.moderator && !mine
          ? html`<details class="remove">
              <summary>${t.thread.removePost}</summary>
              <form
                class="stack remove-form"
                novalidate
                @submit=${submitter((f) => this.remove(post, f.reason))}
              >
                <gcds-input
                  input-id=${`remove-${post.id}`}
                  name="reason"
                  label=${t.thread.reason}
                  required
                  maxlength="500"
                ></gcds-input>
                <gcds-button type="submit" button-role="danger" size="small"
                  >${t.thread.removePost}</gcds-button
                >
              </form>
            </details>`
          : nothing
      }
      ${a.feedback()}
    </div>`;
  }
}
