// /search?q=: one search box for people, groups, discussions and files, in either language (the server
// folds accents and case the same way for English and French, and searches groups' names and
// descriptions in both), with the results by kind. An address of another node's group (@group@host, its
// URL, or one of its discussions' URL) is looked up there (GET /lookup, docs/federation.md "Finding a
// group"): the group's public profile, which the viewer joins or asks to join from here; the group's own
// page (/groups/<name@host>) then works as a local group's does.
import { html, nothing } from 'lit';
import {
  ApiError,
  data,
  http,
  type FeedItem,
  type Group,
  type LibraryFile,
  type Lookup,
  type Profile,
} from '../api/api';
import { bytes } from '../i18n/format';
import { language, t } from '../i18n/i18n';
import { navigate, Page } from '../router';
import { Action, submitter } from '../ui/form';
import { sanitised, when } from '../ui/html';
import { threadPath } from './group/discussions';
import { groupDescription, groupName, inLanguage, originBadge } from './group/group.page';
import { groupItem } from './groups';
import { personItem } from './people/people';

/** `@group@host` or `https://host/...` naming another node, if the query is one. */
export function remoteAddress(q: string): string | null {
  // A host has a dot (a domain, an address) or is localhost; a port may follow.
  const handle = /^@?[a-z0-9][a-z0-9._-]*@([a-z0-9-]+(\.[a-z0-9-]+)+|localhost)(:\d+)?$/i.exec(q.trim());
  if (handle) return q.trim();
  try {
    const url = new URL(q.trim());
    if ((url.protocol === 'https:' || url.protocol === 'http:') && url.host !== location.host)
      return url.toString();
  } catch {
    // not an address
  }
  return null;
}

export class SearchPage extends Page {
  private readonly q = (this.ctx.query.get('q') ?? '').trim();
  private people: Profile[] = [];
  private groups: Group[] = [];
  private posts: FeedItem[] = [];
  private files: LibraryFile[] = [];
  private found: Lookup | null = null;
  private notFound = false;
  private readonly joining = new Action(() => this.update());

  title() {
    return this.q ? t.search.results(this.q) : t.search.title;
  }

  async load() {
    const q = this.q;
    if (!q) return;
    if (remoteAddress(q)) return this.lookUp(q);
    const none = <T>() => Promise.resolve([] as T[]);
    [this.people, this.groups, this.posts, this.files] = await Promise.all([
      this.ctx.me
        ? data(http.GET('/people', { params: { query: { q, limit: 20 } } })).then((p) => p.items)
        : none<Profile>(),
      data(http.GET('/groups', { params: { query: { q, limit: 20 } } })).then((p) => p.items),
      data(http.GET('/search', { params: { query: { q, limit: 20 } } })).then((p) => p.items),
      data(http.GET('/search/files', { params: { query: { q, limit: 20 } } })),
    ]);
  }

  private async lookUp(q: string) {
    if (!this.ctx.me) return;
    try {
      this.found = await data(http.GET('/lookup', { params: { query: { q } } }));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) this.notFound = true;
      else throw err;
    }
  }

  private async join(how: 'join' | 'requests') {
    const group = this.found!.group.handle;
    const ok = await this.joining.run(async () => {
      const path = { params: { path: { group } } };
      if (how === 'join') await http.POST('/groups/{group}/join', path);
      else await http.POST('/groups/{group}/requests', path);
    });
    if (ok) navigate(`/groups/${encodeURIComponent(group)}`);
  }

  /** The public profile of a group found by its address (often on another node). */
  private remoteGroup(found: Lookup) {
    const g = found.group;
    const name = inLanguage(g.names);
    const path = `/groups/${encodeURIComponent(g.handle)}`;
    const can = (what: string) => g.viewer.can.includes(what);
    return html`<section id="remote-group" class="remote-group" aria-labelledby="remote-group-heading">
      <p class="muted small">${t.search.remoteFound}</p>
      <div class="title-row">
        ${g.avatarUrl ? html`<img class="avatar large" src=${g.avatarUrl} alt="" width="96" height="96" />` : nothing}
        <div>
          <h2 id="remote-group-heading" lang=${name && name.lang !== language() ? name.lang : nothing}>
            ${groupName(g)}
          </h2>
          <p class="muted">
            @${g.handle} · <span id="remote-member-count">${t.group.members(g.memberCount)}</span> ·
            ${t.group.joinPolicy[g.joinPolicy]} · ${originBadge(g)}
          </p>
        </div>
      </div>
      ${groupDescription(g)}
      ${found.thread ? html`<p>${t.search.threadFound(found.thread.title)}</p>` : nothing}
      <h3>${t.search.moderators}</h3>
      <ul id="remote-moderators">
        ${g.moderators.map(
          (m) =>
            html`<li>
              ${m.url ? html`<a href=${m.url} rel="external">${m.displayName}</a>` : m.displayName}
              <span class="muted handle">@${m.handle}</span>
            </li>`,
        )}
      </ul>
      <h3>${t.search.recentThreads}</h3>
      ${
        g.recentThreads.length
          ? html`<ul id="remote-threads">
              ${g.recentThreads.map(
                (th) =>
                  html`<li>
                    ${
                      th.id
                        ? html`<a href=${threadPath(g.handle, th.id)}>${th.title}</a>`
                        : th.url
                          ? html`<a href=${th.url} rel="external">${th.title}</a>`
                          : th.title
                    }
                    ${th.createdAt ? html`<span class="muted small">· ${when(th.createdAt)}</span>` : nothing}
                  </li>`,
              )}
            </ul>`
          : html`<p class="muted">${t.search.noThreads}</p>`
      }
      <div class="membership">
        ${can('join') ? html`<gcds-button id="join" @click=${() => this.join('join')}>${t.group.join}</gcds-button>` : nothing}
        ${
          can('request')
            ? html`<gcds-button id="request" @click=${() => this.join('requests')}
                >${t.group.askToJoin}</gcds-button
              >`
            : nothing
        }
        <a id="open-group" href=${path}>${t.search.openGroup(groupName(g))}</a>
        ${this.joining.feedback()}
      </div>
    </section>`;
  }

  private remoteResult(address: string) {
    if (this.found) return this.remoteGroup(this.found);
    return html`<gcds-notice notice-role="info" notice-title-tag="h2" notice-title=${t.search.title}>
      <p id="remote-notice">
        ${this.ctx.me ? (this.notFound ? t.search.remoteNotFound(address) : nothing) : t.search.remoteSignIn}
      </p>
    </gcds-notice>`;
  }

  private readonly search = submitter((f) => {
    const q = (f.q ?? '').trim();
    navigate(q ? `/search?q=${encodeURIComponent(q)}` : '/search');
  });

  private post(item: FeedItem) {
    if (item.kind === 'thread') {
      const th = item.thread;
      return html`<li>
        <a href=${threadPath(th.group, th.id)}>${th.title}</a>
        <p class="muted small">${t.search.inGroup(th.group)} · ${when(th.createdAt)}</p>
      </li>`;
    }
    const r = item.reply;
    return html`<li>
      <a href=${`/threads/${r.threadId}`}>${item.threadTitle}</a>
      <div class="excerpt small">${sanitised(r.body?.html)}</div>
    </li>`;
  }

  private section(id: string, title: string, count: number, items: unknown) {
    return html`<section aria-labelledby=${`${id}-heading`} class="results">
      <h2 id=${`${id}-heading`}>${title} <span class="muted small">(${t.search.count(count)})</span></h2>
      ${count ? items : html`<p class="muted">${t.search.nothing}</p>`}
    </section>`;
  }

  render() {
    const q = this.q;
    const remote = q ? remoteAddress(q) : null;
    const total = this.people.length + this.groups.length + this.posts.length + this.files.length;
    return html`<h1>${t.search.title}</h1>
      <form
        id="search-form"
        role="search"
        aria-label=${t.search.title}
        class="search-form"
        novalidate
        @submit=${this.search}
      >
        <gcds-input
          input-id="search-q"
          name="q"
          type="search"
          label=${t.search.label}
          hint=${t.search.hint}
          value=${q}
        ></gcds-input>
        <gcds-button type="submit">${t.search.submit}</gcds-button>
      </form>
      <p class="muted small">${t.search.remoteHint}</p>
      ${remote ? this.remoteResult(remote) : nothing}
      ${
        q && !remote
          ? html`<p role="status" id="search-summary">${t.search.summary(total, q)}</p>
              <div class="search-results">
                ${this.section(
                  'people',
                  t.search.people,
                  this.people.length,
                  html`<ul id="people-results" class="people">
                    ${this.people.map(personItem)}
                  </ul>`,
                )}
                ${this.section(
                  'groups',
                  t.search.groups,
                  this.groups.length,
                  html`<ul id="group-results" class="group-list">
                    ${this.groups.map(groupItem)}
                  </ul>`,
                )}
                ${this.section(
                  'threads',
                  t.search.threads,
                  this.posts.length,
                  html`<ul id="thread-results">
                    ${this.posts.map((p) => this.post(p))}
                  </ul>`,
                )}
                ${this.section(
                  'files',
                  t.search.files,
                  this.files.length,
                  html`<ul id="file-results">
                    ${this.files.map(
                      (f) =>
                        html`<li>
                          <a href=${f.url} download=${f.name}>${f.name}</a>
                          <span class="muted small"
                            >${bytes(f.size)} · ${t.search.inGroup(f.group)} ·
                            <a href=${`/groups/${encodeURIComponent(f.group)}/files`}
                              >${t.files.title}</a
                            ></span
                          >
                        </li>`,
                    )}
                  </ul>`,
                )}
              </div>`
          : nothing
      }`;
  }
}
