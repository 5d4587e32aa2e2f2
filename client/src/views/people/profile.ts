// /people/<handle>: a person's profile as this viewer may see it (the server leaves out what the owner
// hides), in the viewer's language where it is bilingual (job title, organization), with the groups they
// share with the viewer and the other groups of theirs the viewer may see.
import { html, nothing } from 'lit';
import { data, http, type Ok, type Profile } from '../../api/api';
import { t } from '../../i18n/i18n';
import { language } from '../../i18n/format';
import { Page } from '../../router';
import { avatar, sanitised } from '../../ui/html';
import { groupName, inLanguage } from '../group/group.page';

type Membership = Ok<'/people/{handle}/memberships', 'get'>[number];

export class ProfilePage extends Page {
  private readonly handle = this.ctx.params.handle!;
  private person!: Profile;
  private groups: Membership[] = [];
  private shared = new Set<string>();

  title() {
    return this.person.displayName;
  }

  async load() {
    const path = { params: { path: { handle: this.handle } } };
    this.person = await data(http.GET('/people/{handle}', path));
    this.groups = await data(http.GET('/people/{handle}/memberships', path));
    const me = this.ctx.me;
    if (me && me.profile.handle !== this.person.handle) {
      const mine = await data(
        http.GET('/people/{handle}/memberships', { params: { path: { handle: me.profile.handle } } }),
      );
      this.shared = new Set(mine.map((m) => m.group));
    }
  }

  private field(label: string, value: unknown) {
    return html`<dt>${label}</dt>
      <dd>${value}</dd>`;
  }

  render() {
    const p = this.person;
    const self = this.ctx.me?.profile.handle === p.handle;
    const title = inLanguage(p.jobTitle);
    const org = p.organization ? inLanguage(p.organization.name) : null;
    const tagged = (x: { text: string; lang: string } | null) =>
      x ? html`<span lang=${x.lang !== language() ? x.lang : nothing}>${x.text}</span>` : nothing;
    const langs = p.languages;
    const sharedGroups = this.groups.filter((g) => this.shared.has(g.group));
    const groupLink = (g: Membership) =>
      html`<li>
        <a href=${`/groups/${encodeURIComponent(g.group)}`}>${groupName(g)}</a>
        <span class="muted">(${t.group.role[g.role]})</span>
      </li>`;
    return html`<article class="profile" id="profile">
      <div class="profile-head">
        ${avatar(p.displayName, p.avatarUrl, 'large')}
        <div>
          <h1>${p.displayName}</h1>
          <p class="muted">@${p.handle}</p>
          ${title ? html`<p class="job-title">${tagged(title)}</p>` : nothing}
          ${org ? html`<p class="organization">${tagged(org)}</p>` : nothing}
          ${p.status === 'deactivated' ? html`<p class="badge">${t.people.deactivated}</p>` : nothing}
          ${self ? html`<p><gcds-link href=${`/people/${encodeURIComponent(p.handle)}/edit`}>${t.people.editProfile}</gcds-link></p>` : nothing}
        </div>
      </div>
      ${
        p.about
          ? html`<section aria-labelledby="about-heading">
              <h2 id="about-heading">${t.people.about}</h2>
              <div class="body">${sanitised(p.about.html)}</div>
            </section>`
          : nothing
      }
      <dl class="fields">
        ${p.location ? this.field(t.people.location, p.location) : nothing}
        ${
          p.skills?.length
            ? this.field(
                t.people.skills,
                html`<ul class="tags">
                  ${p.skills.map((s) => html`<li>${s}</li>`)}
                </ul>`,
              )
            : nothing
        }
        ${
          langs && (langs.first || langs.reading)
            ? this.field(
                t.people.languages,
                html`${langs.first ? html`<p>${t.people.firstLanguage(langs.first)}</p>` : nothing}
                ${
                  langs.reading || langs.writing || langs.oral
                    ? html`<p>
                        ${t.people.sle(langs.reading ?? '–', langs.writing ?? '–', langs.oral ?? '–')}
                      </p>`
                    : nothing
                }`,
              )
            : nothing
        }
        ${p.contact?.email ? this.field(t.people.email, html`<a href=${`mailto:${p.contact.email}`}>${p.contact.email}</a>`) : nothing}
        ${p.contact?.phone ? this.field(t.people.phone, html`<a href=${`tel:${p.contact.phone.replace(/[^+0-9]/g, '')}`}>${p.contact.phone}</a>`) : nothing}
        ${p.contact?.website ? this.field(t.people.website, html`<a href=${p.contact.website} rel="nofollow noopener noreferrer">${p.contact.website}</a>`) : nothing}
      </dl>
      ${
        this.ctx.me && !self
          ? html`<section aria-labelledby="shared-heading">
              <h2 id="shared-heading">${t.people.sharedGroups}</h2>
              ${
                sharedGroups.length
                  ? html`<ul id="shared-groups">
                      ${sharedGroups.map(groupLink)}
                    </ul>`
                  : html`<p class="muted">${t.people.noSharedGroups}</p>`
              }
            </section>`
          : nothing
      }
      ${
        this.groups.length
          ? html`<section aria-labelledby="groups-heading">
              <h2 id="groups-heading">${t.people.theirGroups}</h2>
              <ul id="their-groups">
                ${this.groups.map(groupLink)}
              </ul>
            </section>`
          : nothing
      }
    </article>`;
  }
}
