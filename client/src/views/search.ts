// /search?q=: one search box for people, groups, discussions and files, in either language (the server
// folds accents and case the same way for English and French, and searches groups' names and
// descriptions in both), with the results by kind. An address of another node's group (@group@host, or
// its URL) is recognised here: that is where joining remote groups will start (groupOrigin in
// group.page.ts is the other end); until then the page says so.
import { html, nothing } from 'lit';
import { data, http, type FeedItem, type Group, type LibraryFile, type Profile } from '../api/api';
import { bytes } from '../i18n/format';
import { t } from '../i18n/i18n';
import { navigate, Page } from '../router';
import { submitter } from '../ui/form';
import { sanitised, when } from '../ui/html';
import { threadPath } from './group/discussions';
import { groupItem } from './groups';
import { personItem } from './people/people';

/** `@group@host` or `https://host/...` naming another node, if the query is one. */
export function remoteAddress(q: string): string | null {
  const handle = /^@?[a-z0-9][a-z0-9._-]*@([a-z0-9.-]+\.[a-z]{2,}|localhost)(:\d+)?$/i.exec(q.trim());
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

  title() {
    return this.q ? t.search.results(this.q) : t.search.title;
  }

  async load() {
    const q = this.q;
    if (!q || remoteAddress(q)) return;
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
      ${
        remote
          ? html`<gcds-notice notice-role="info" notice-title-tag="h2" notice-title=${t.search.title}>
              <p id="remote-notice">${t.search.remoteUnavailable(remote)}</p>
            </gcds-notice>`
          : nothing
      }
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
