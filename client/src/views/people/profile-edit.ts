// /people/<handle>/edit (the person themselves): the profile's fields, who sees each of them, the photo,
// and the language Ensemble speaks to them in (remembered by the server, over their provider's).
import { html, nothing } from 'lit';
import { ApiError, data, http, upload, type Me, type Organization, type ProfilePatch } from '../../api/api';
import { pick } from '../../i18n/format';
import { language, setLanguage, t } from '../../i18n/i18n';
import { navigate, Page } from '../../router';
import { MarkdownEditor } from '../../ui/editor';
import { FileField } from '../../ui/file-field';
import { Action, submitter } from '../../ui/form';
import { avatar } from '../../ui/html';

const HIDEABLE = [
  'jobTitle',
  'organization',
  'location',
  'about',
  'skills',
  'languages',
  'contact',
  'avatar',
] as const;
type Hideable = (typeof HIDEABLE)[number];
type Level = 'public' | 'node' | 'private';
const SLE = ['A', 'B', 'C', 'E', 'X'] as const;

export class ProfileEditPage extends Page {
  private me!: Me;
  private organizations: Organization[] = [];
  private readonly saving = new Action(() => this.update());
  private readonly photo = new Action(() => this.update());
  private readonly prefs = new Action(() => this.update());
  private about!: MarkdownEditor;
  private readonly photoField = new FileField({
    id: 'profile-avatar',
    name: 'avatar',
    label: () => t.profile.avatar,
    hint: () => t.profile.avatarHint,
    accept: 'image/png,image/jpeg,image/webp,image/gif',
    update: () => this.update(),
  });

  title() {
    return t.profile.title;
  }

  async load() {
    if (!this.ctx.me) throw new ApiError(401, null);
    // Only one's own profile is edited here; anyone else's address shows their profile.
    if (this.ctx.me.profile.handle !== this.ctx.params.handle) throw new ApiError(404, null);
    [this.me, this.organizations] = await Promise.all([
      data(http.GET('/me')),
      data(http.GET('/organizations')),
    ]);
    this.about = new MarkdownEditor({
      id: 'profile-about',
      name: 'about',
      label: () => t.profile.about,
      update: () => this.update(),
      rows: 6,
      mentions: false,
      hint: () => t.settings.markdownHint,
    });
    this.about.value = this.me.profile.about?.markdown ?? '';
  }

  private readonly save = submitter(async (f) => {
    const level = (field: Hideable) => f[`visibility-${field}`] as Level;
    const patch: ProfilePatch = {
      displayName: f.displayName ?? '',
      jobTitle: { en: f.jobTitleEn ?? '', fr: f.jobTitleFr ?? '' },
      organization: f.organization ? f.organization : null,
      location: f.location ?? '',
      about: this.about.value,
      skills: (f.skills ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      languages: {
        ...(f.first === 'en' || f.first === 'fr' ? { first: f.first } : {}),
        ...(SLE.includes(f.reading as never) ? { reading: f.reading as (typeof SLE)[number] } : {}),
        ...(SLE.includes(f.writing as never) ? { writing: f.writing as (typeof SLE)[number] } : {}),
        ...(SLE.includes(f.oral as never) ? { oral: f.oral as (typeof SLE)[number] } : {}),
      },
      // An emptied field is cleared (null), not left as it was.
      contact: {
        email: f.email ? f.email : null,
        phone: f.phone ? f.phone : null,
        website: f.website ? f.website : null,
      },
      visibility: Object.fromEntries(HIDEABLE.map((field) => [field, level(field)])),
    };
    await this.saving.run(async () => {
      this.me = await data(http.PATCH('/me/profile', { body: patch }));
    }, t.profile.saved);
  });

  private readonly uploadPhoto = submitter(async (_f, form) => {
    const input = form.querySelector<HTMLInputElement>('input[type=file]');
    if (!input?.files?.[0]) return input?.focus();
    const body = new FormData();
    body.append('avatar', input.files[0]);
    const ok = await this.photo.run(async () => {
      this.me = await upload('/me/avatar', { method: 'put', params: {}, form: body });
    }, t.settings.imageSaved);
    if (ok) {
      form.reset();
      this.photoField.reset();
    }
  });

  private async removePhoto() {
    await this.photo.run(async () => {
      await http.DELETE('/me/avatar');
      this.me = await data(http.GET('/me'));
    }, t.settings.imageRemoved);
  }

  private async chooseLanguage(lang: 'en' | 'fr') {
    await this.prefs.run(async () => {
      this.me = await data(http.PUT('/me/locale', { body: { locale: lang } }));
      setLanguage(lang);
      // The header and every page follow at once.
      navigate(location.pathname, { replace: true });
    }, t.common.saved);
  }

  private visibility(field: Hideable, label: string) {
    const current = (this.me.profile.visibility?.[field] ?? 'node') as Level;
    return html`<gcds-select
      select-id=${`visibility-${field}`}
      name=${`visibility-${field}`}
      label=${t.profile.visibilityOf(label)}
      value=${current}
    >
      ${(['public', 'node', 'private'] as const).map(
        (v) => html`<option value=${v} ?selected=${v === current}>${t.profile.visibilityLevel[v]}</option>`,
      )}
    </gcds-select>`;
  }

  private sle(name: 'reading' | 'writing' | 'oral', label: string) {
    const current = this.me.profile.languages?.[name] ?? '';
    return html`<gcds-select select-id=${`profile-${name}`} name=${name} label=${label} value=${current}>
      <option value="">${t.profile.sleNone}</option>
      ${SLE.map((v) => html`<option value=${v} ?selected=${v === current}>${v}</option>`)}
    </gcds-select>`;
  }

  render() {
    const p = this.me.profile;
    return html`<h1>${t.profile.title}</h1>
      <p><gcds-link href=${`/people/${encodeURIComponent(p.handle)}`}>${t.profile.view}</gcds-link></p>
      <section aria-labelledby="photo-heading">
        <h2 id="photo-heading">${t.profile.avatar}</h2>
        ${avatar(p.displayName, p.avatarUrl, 'large')}
        <form id="avatar-form" class="stack" novalidate @submit=${this.uploadPhoto}>
          ${this.photoField.template()}
          <div class="actions">
            <gcds-button type="submit" button-role="secondary" size="small"
              >${t.profile.uploadAvatar}</gcds-button
            >
            ${
              p.avatarUrl
                ? html`<gcds-button
                    type="button"
                    button-role="secondary"
                    size="small"
                    @click=${() => this.removePhoto()}
                    >${t.profile.removeAvatar}</gcds-button
                  >`
                : nothing
            }
          </div>
          ${this.photo.feedback()}
        </form>
      </section>
      <form id="profile-form" class="stack" novalidate @submit=${this.save}>
        <gcds-input
          input-id="profile-display-name"
          name="displayName"
          label=${t.profile.displayName}
          required
          maxlength="100"
          value=${p.displayName}
        ></gcds-input>
        <gcds-input
          input-id="profile-job-en"
          name="jobTitleEn"
          label=${t.profile.jobTitleEn}
          maxlength="150"
          value=${p.jobTitle?.en ?? ''}
        ></gcds-input>
        <gcds-input
          input-id="profile-job-fr"
          name="jobTitleFr"
          label=${t.profile.jobTitleFr}
          maxlength="150"
          value=${p.jobTitle?.fr ?? ''}
        ></gcds-input>
        <gcds-select
          select-id="profile-organization"
          name="organization"
          label=${t.profile.organization}
          value=${p.organization?.slug ?? ''}
        >
          <option value="">${t.profile.noOrganization}</option>
          ${this.organizations.map(
            (o) =>
              html`<option value=${o.slug} ?selected=${o.slug === p.organization?.slug}>
                ${pick(o.name)}
              </option>`,
          )}
        </gcds-select>
        <gcds-input
          input-id="profile-location"
          name="location"
          label=${t.profile.location}
          maxlength="150"
          value=${p.location ?? ''}
        ></gcds-input>
        ${this.about.template()}
        <gcds-input
          input-id="profile-skills"
          name="skills"
          label=${t.profile.skills}
          value=${(p.skills ?? []).join(', ')}
        ></gcds-input>
        <gcds-select
          select-id="profile-first"
          name="first"
          label=${t.profile.firstLanguage}
          value=${p.languages?.first ?? ''}
        >
          <option value="">${t.common.none}</option>
          <option value="en" ?selected=${p.languages?.first === 'en'}>${t.common.english}</option>
          <option value="fr" ?selected=${p.languages?.first === 'fr'}>${t.common.french}</option>
        </gcds-select>
        ${this.sle('reading', t.profile.reading)} ${this.sle('writing', t.profile.writing)}
        ${this.sle('oral', t.profile.oral)}
        <gcds-input
          input-id="profile-email"
          name="email"
          type="email"
          label=${t.profile.email}
          maxlength="254"
          value=${p.contact?.email ?? ''}
        ></gcds-input>
        <gcds-input
          input-id="profile-phone"
          name="phone"
          type="tel"
          label=${t.profile.phone}
          value=${p.contact?.phone ?? ''}
        ></gcds-input>
        <gcds-input
          input-id="profile-website"
          name="website"
          type="url"
          label=${t.profile.website}
          value=${p.contact?.website ?? ''}
        ></gcds-input>
        <fieldset class="visibility">
          <legend>${t.profile.visibility}</legend>
          ${this.visibility('jobTitle', t.people.jobTitle)}
          ${this.visibility('organization', t.people.organization)}
          ${this.visibility('location', t.people.location)} ${this.visibility('about', t.people.about)}
          ${this.visibility('skills', t.people.skills)} ${this.visibility('languages', t.people.languages)}
          ${this.visibility('contact', t.people.contact)} ${this.visibility('avatar', t.profile.avatar)}
        </fieldset>
        ${this.saving.feedback()}
        <gcds-button type="submit">${t.common.save}</gcds-button>
      </form>
      <section aria-labelledby="prefs-heading">
        <h2 id="prefs-heading">${t.profile.preferences}</h2>
        <gcds-select
          select-id="interface-language"
          name="locale"
          label=${t.profile.interfaceLanguage}
          .value=${language()}
          @gcdsChange=${(e: CustomEvent<string>) => this.chooseLanguage(e.detail === 'fr' ? 'fr' : 'en')}
        >
          <option value="en" ?selected=${language() === 'en'} lang="en">English</option>
          <option value="fr" ?selected=${language() === 'fr'} lang="fr">Français</option>
        </gcds-select>
        ${this.prefs.feedback()}
      </section>`;
  }
}
