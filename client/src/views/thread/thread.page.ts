// /groups/<handle>/threads/<id>: one discussion and its replies, nested under what they answer, kept
// current by the thread's room. New replies are read from the last position seen (?cursor=<seq>), so a
// burst or a reconnection adds each reply once, in order (docs/realtime.md).
import { html, nothing, type TemplateResult } from 'lit';
import { data, http, type Group, type Reply, type Thread } from '../../api/api';
import { t } from '../../i18n/i18n';
import { live, type LiveEvent } from '../../live';
import { navigate, Page } from '../../router';
import { refresher } from '../../refresher';
import { MarkdownEditor } from '../../ui/editor';
import { FileField } from '../../ui/file-field';
import { Action, submitter } from '../../ui/form';
import { attach } from '../group/discussions';
import { groupName, groupOrigin } from '../group/group.page';
import { PostActions, type Post } from './post';

export class ThreadPage extends Page {
  private readonly id = this.ctx.params.id!;
  private readonly handle = this.ctx.params.handle!;
  private thread!: Thread;
  private group!: Group;
  private readonly replies = new Map<string, Reply>();
  private lastSeq = 0;
  private parent: Reply | null = null;
  private following: boolean | null = null;
  private readonly flags = new Action(() => this.update());
  private readonly replying = new Action(() => this.update());
  private readonly editor = new MarkdownEditor({
    id: 'reply-body',
    name: 'body',
    label: () => t.thread.reply,
    update: () => this.update(),
    required: true,
  });
  private posts!: PostActions;
  private readonly files = new FileField({
    id: 'reply-files',
    name: 'attachments',
    label: () => t.thread.attach,
    multiple: true,
    update: () => this.update(),
  });

  private get moderator() {
    return this.group.viewer.can.includes('moderate');
  }
  private get canPost() {
    return this.group.viewer.can.includes('post') && (!this.thread.locked || this.moderator);
  }

  title() {
    return this.thread.deleted ? t.thread.removed : this.thread.title;
  }

  async load() {
    this.thread = await data(http.GET('/threads/{id}', { params: { path: { id: this.id } } }));
    // The address names the thread's group: another group's handle is not this thread.
    if (this.thread.group !== this.handle) {
      navigate(`/groups/${encodeURIComponent(this.thread.group)}/threads/${this.id}`, { replace: true });
      return;
    }
    this.group = await data(http.GET('/groups/{group}', { params: { path: { group: this.thread.group } } }));
    this.posts = new PostActions(this.postContext());
    this.ctx.onLeave(await live.follow({ kind: 'thread', id: this.id }, () => void this.catchUp()));
    // Read again once following: a change between the first read and the join (a lock, an edit) arrived
    // before the room did.
    await Promise.all([this.refreshThread(), this.sync()]);
    if (this.ctx.me && this.group.viewer.role) {
      const sub = await data(http.GET('/threads/{id}/subscription', { params: { path: { id: this.id } } }));
      this.following = sub.level === 'all';
    }
    const mine = (e: { threadId?: string }) => e.threadId === this.id;
    const on = (event: string, handler: (e: LiveEvent) => void) =>
      this.ctx.onLeave(live.on(event, (e) => mine(e) && handler(e)));
    on('reply.created', (e) => {
      if ((e.seq ?? 0) > this.lastSeq) void this.sync();
    });
    on('thread.updated', () => void this.refreshThread());
    for (const event of ['post.edited', 'post.deleted', 'post.liked', 'post.unliked', 'post.confirmed'])
      on(event, (e) => void (e.kind === 'threads' ? this.refreshThread() : this.refreshReply(e.id ?? '')));
  }

  private postContext() {
    const canPost = () => this.group.viewer.can.includes('post');
    const moderator = () => this.moderator;
    const origin = () => groupOrigin(this.group)?.host ?? null;
    return {
      me: this.ctx.me ? { handle: this.ctx.me.profile.handle } : null,
      get canPost() {
        return canPost();
      },
      get moderator() {
        return moderator();
      },
      get origin() {
        return origin();
      },
      update: () => this.update(),
      refresh: (post: Post) => (post.kind === 'threads' ? this.refreshThread() : this.refreshReply(post.id)),
    };
  }

  private readonly refreshThread = refresher(async () => {
    this.thread = await data(http.GET('/threads/{id}', { params: { path: { id: this.id } } }));
    this.update();
  });

  private async refreshReply(id: string) {
    if (!this.replies.has(id)) return;
    this.replies.set(id, await data(http.GET('/replies/{id}', { params: { path: { id } } })));
    this.update();
  }

  /** Everything after the last position seen, page by page. */
  private readonly sync = refresher(async () => {
    let added = 0;
    for (;;) {
      const page = await data(
        http.GET('/threads/{id}/replies', {
          params: {
            path: { id: this.id },
            query: { limit: 100, ...(this.lastSeq ? { cursor: String(this.lastSeq) } : {}) },
          },
        }),
      );
      for (const reply of page.items) {
        if (!this.replies.has(reply.id) && reply.author?.handle !== this.ctx.me?.profile.handle) added++;
        this.replies.set(reply.id, reply);
        this.lastSeq = Math.max(this.lastSeq, reply.seq);
      }
      if (!page.nextCursor) break;
    }
    this.update();
    // Replies by others that arrive while the page is open are said to screen readers.
    if (added && this.shownOnce) this.ctx.announce(t.thread.newReplies(added));
    this.shownOnce = true;
  });
  private shownOnce = false;

  /** After a gap Socket.IO could not replay: read everything again (edits, deletions and likes included). */
  private async catchUp() {
    this.group = await data(http.GET('/groups/{group}', { params: { path: { group: this.thread.group } } }));
    await this.refreshThread();
    this.lastSeq = 0;
    await this.sync();
  }

  private async setFlag(flag: 'pin' | 'lock', on: boolean) {
    await this.flags.run(async () => {
      const path = { params: { path: { id: this.id } } };
      if (flag === 'pin')
        await (on ? http.DELETE('/threads/{id}/pin', path) : http.PUT('/threads/{id}/pin', path));
      else await (on ? http.DELETE('/threads/{id}/lock', path) : http.PUT('/threads/{id}/lock', path));
      if (!live.socket.connected) await this.refreshThread();
    });
  }

  private async follow(on: boolean) {
    await http.PUT('/threads/{id}/subscription', {
      params: { path: { id: this.id } },
      body: { level: on ? 'all' : 'none' },
    });
    this.following = on;
    this.update();
  }

  private replyTo(reply: Reply | null) {
    this.parent = reply;
    this.update();
    this.editor.focus();
  }

  private readonly send = submitter(async (_fields, form) => {
    const ok = await this.replying.run(async () => {
      const attachments = await attach(
        this.thread.group,
        form.querySelector<HTMLInputElement>('input[type=file]'),
      );
      const reply = await data(
        http.POST('/threads/{id}/replies', {
          params: { path: { id: this.id } },
          body: {
            body: this.editor.value,
            ...(this.parent ? { parentId: this.parent.id } : {}),
            ...(attachments ? { attachments } : {}),
          },
        }),
      );
      // Shown now; the live event for it is then a no-op.
      this.replies.set(reply.id, reply);
      this.lastSeq = Math.max(this.lastSeq, reply.seq);
    });
    if (ok) {
      form.reset();
      this.editor.reset();
      this.files.reset();
      this.parent = null;
      this.update();
    }
  });

  private replyItem(reply: Reply, children: Map<string | null, Reply[]>): TemplateResult {
    const post: Post = { ...reply, kind: 'replies' };
    const kids = children.get(reply.id) ?? [];
    return html`<li
      class=${`reply depth-${Math.min(reply.depth, 6)}`}
      data-id=${reply.id}
      data-seq=${reply.seq}
    >
      <article id=${`reply-${reply.id}`} aria-label=${reply.author?.displayName ?? t.common.someone}>
        ${this.posts.byline(post)} ${this.posts.body(post)}
        ${this.posts.controls(
          post,
          this.canPost && !reply.deleted
            ? html`<button type="button" class="reply-to" @click=${() => this.replyTo(reply)}>
                ${t.thread.replyTo}
              </button>`
            : nothing,
        )}
      </article>
      ${
        kids.length
          ? html`<ol class="replies nested">
              ${kids.map((k) => this.replyItem(k, children))}
            </ol>`
          : nothing
      }
    </li>`;
  }

  render() {
    const th = this.thread;
    const post: Post = { ...th, kind: 'threads' };
    // Replies nest under what they answer; siblings stay in the order they were written.
    const children = new Map<string | null, Reply[]>();
    for (const r of [...this.replies.values()].sort((a, b) => a.seq - b.seq)) {
      const parent = r.parentId && this.replies.has(r.parentId) ? r.parentId : null;
      children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const groupPath = `/groups/${encodeURIComponent(th.group)}`;
    const origin = groupOrigin(this.group);
    return html`<nav class="breadcrumbs" aria-label="breadcrumb">
        <a href=${groupPath}>← ${t.threads.backTo(groupName(this.group))}</a>
        ${origin ? html`<span class="badge origin remote">${t.group.origin(origin.host)}</span>` : nothing}
      </nav>
      <article id="thread" class="thread-page">
        <h1>
          ${th.pinned ? html`<span class="tag">${t.threads.pinned}</span>` : nothing}
          ${th.locked ? html`<span class="tag">${t.threads.locked}</span>` : nothing}
          ${th.deleted ? t.thread.removed : th.title}
        </h1>
        ${this.posts.byline(post)} ${this.posts.body(post)} ${this.posts.controls(post)}
        ${
          this.moderator && !th.deleted
            ? html`<p class="moderation">
                <button type="button" class="flag-pin" @click=${() => this.setFlag('pin', th.pinned)}>
                  ${th.pinned ? t.thread.unpin : t.thread.pin}
                </button>
                <button type="button" class="flag-lock" @click=${() => this.setFlag('lock', th.locked)}>
                  ${th.locked ? t.thread.unlock : t.thread.lock}
                </button>
                ${this.flags.feedback()}
              </p>`
            : nothing
        }
      </article>
      ${
        this.following !== null
          ? html`<p class="checkbox">
              <input
                type="checkbox"
                id="follow-thread"
                .checked=${this.following}
                @change=${(e: Event) => this.follow((e.target as HTMLInputElement).checked)}
              />
              <label for="follow-thread">${t.thread.follow}</label>
            </p>`
          : nothing
      }
      <h2 class="sr-only">${t.threads.replies(this.replies.size)}</h2>
      <ol id="replies" class=${this.canPost ? 'replies' : 'replies closed'}>
        ${(children.get(null) ?? []).map((r) => this.replyItem(r, children))}
      </ol>
      ${th.locked && !this.moderator ? html`<p class="muted">${t.threads.lockedHelp}</p>` : nothing}
      <form id="reply-form" class="stack" novalidate ?hidden=${!this.canPost} @submit=${this.send}>
        ${
          this.parent
            ? html`<p class="replying-to" role="status">
                ${t.thread.replyingTo(this.parent.author?.displayName ?? t.common.someone)}
                <button type="button" class="link-button" @click=${() => this.replyTo(null)}>
                  ${t.thread.cancelReply}
                </button>
              </p>`
            : nothing
        }
        ${this.editor.template()} ${this.files.template()} ${this.replying.feedback()}
        <gcds-button type="submit" ?disabled=${this.replying.busy}>${t.threads.post}</gcds-button>
      </form>`;
  }
}
