// /groups/<handle>/settings (the group's admins): names and descriptions in English and French, who sees
// it and who may join, the welcome message, the avatar and the banner, and deleting the group (its owner
// or a node administrator; restoring is offered from the home page's deleted groups and right after).
import { html, nothing } from 'lit';
import { ApiError, data, http, upload, type GroupPatch } from '../../api/api';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { navigate } from '../../router';
import { confirmDialog } from '../../ui/dialog';
import { MarkdownEditor } from '../../ui/editor';
import { FileField } from '../../ui/file-field';
import { Action, submitter } from '../../ui/form';
import { GroupPage, groupName } from './group.page';

export class GroupSettingsPage extends GroupPage {
  protected readonly tab = 'settings' as const;
  private readonly saving = new Action(() => this.update());
  private readonly images = new Action(() => this.update());
  private readonly deleting = new Action(() => this.update());
  private readonly imageFields = {
    avatar: new FileField({
      id: 'group-avatar',
      name: 'avatar',
      label: () => t.settings.avatar,
      accept: 'image/png,image/jpeg,image/webp,image/gif',
      update: () => this.update(),
    }),
    banner: new FileField({
      id: 'group-banner',
      name: 'banner',
      label: () => t.settings.banner,
      accept: 'image/png,image/jpeg,image/webp,image/gif',
      update: () => this.update(),
    }),
  };
  private editors!: Record<'descriptionEn' | 'descriptionFr' | 'welcome', MarkdownEditor>;

  tabTitle() {
    return t.group.settings;
  }

  protected async loadTab() {
    if (!this.can('configure')) throw new ApiError(this.can('read') ? 403 : 404, null);
    const editor = (id: string, label: () => string, value: string) => {
      const e = new MarkdownEditor({
        id,
        name: id,
        label,
        update: () => this.update(),
        rows: 4,
        mentions: false,
        hint: () => t.settings.markdownHint,
      });
      e.value = value;
      return e;
    };
    const g = this.group;
    this.editors = {
      descriptionEn: editor(
        'description-en',
        () => t.settings.descriptionEn,
        g.description.en?.markdown ?? '',
      ),
      descriptionFr: editor(
        'description-fr',
        () => t.settings.descriptionFr,
        g.description.fr?.markdown ?? '',
      ),
      welcome: editor('welcome-message', () => t.settings.welcomeMessage, g.welcomeMessage?.markdown ?? ''),
    };
  }

  protected async catchUp() {}
  protected listen(_on: (event: string, handler: (e: LiveEvent) => void) => void) {}

  private readonly save = submitter(async (f) => {
    const en = f.nameEn ?? '';
    const fr = f.nameFr ?? '';
    if (!en && !fr) {
      this.saving.error = t.create.nameMissing;
      this.update();
      return;
    }
    const body: GroupPatch = {
      name: en || fr,
      names: { en, fr },
      description: { en: this.editors.descriptionEn.value, fr: this.editors.descriptionFr.value },
      welcomeMessage: this.editors.welcome.value.trim() ? this.editors.welcome.value : null,
      visibility: f.visibility as GroupPatch['visibility'],
      joinPolicy: f.joinPolicy as GroupPatch['joinPolicy'],
    };
    await this.saving.run(async () => {
      this.group = await data(http.PATCH('/groups/{group}', { ...this.params, body }));
    }, t.common.saved);
  });

  private image(kind: 'avatar' | 'banner') {
    return submitter(async (_f, form) => {
      const input = form.querySelector<HTMLInputElement>('input[type=file]');
      if (!input?.files?.[0]) return input?.focus();
      const body = new FormData();
      body.append(kind, input.files[0]);
      const ok = await this.images.run(async () => {
        this.group =
          kind === 'avatar'
            ? await upload('/groups/{group}/avatar', {
                method: 'put',
                params: { group: this.handle },
                form: body,
              })
            : await upload('/groups/{group}/banner', {
                method: 'put',
                params: { group: this.handle },
                form: body,
              });
      }, t.settings.imageSaved);
      if (ok) {
        form.reset();
        this.imageFields[kind].reset();
      }
    });
  }

  private async clearImage(kind: 'avatar' | 'banner') {
    await this.images.run(async () => {
      this.group =
        kind === 'avatar'
          ? await data(http.DELETE('/groups/{group}/avatar', this.params))
          : await data(http.DELETE('/groups/{group}/banner', this.params));
    }, t.settings.imageRemoved);
  }

  private async remove() {
    if (!(await confirmDialog(t.settings.confirmDelete(groupName(this.group)), t.settings.deleteGroup)))
      return;
    const ok = await this.deleting.run(() => http.DELETE('/groups/{group}', this.params));
    if (ok) navigate('/');
  }

  private imageForm(kind: 'avatar' | 'banner') {
    const url = kind === 'avatar' ? this.group.avatarUrl : this.group.bannerUrl;
    return html`<form class="stack image-form" id=${`${kind}-form`} novalidate @submit=${this.image(kind)}>
      ${this.imageFields[kind].template()}
      <div class="actions">
        <gcds-button type="submit" button-role="secondary" size="small">${t.settings.upload}</gcds-button>
        ${
          url
            ? html`<gcds-button
                type="button"
                button-role="secondary"
                size="small"
                @click=${() => this.clearImage(kind)}
                >${t.settings.removeImage}</gcds-button
              >`
            : nothing
        }
      </div>
    </form>`;
  }

  protected renderTab() {
    const g = this.group;
    return html`<h2>${t.settings.title(groupName(g))}</h2>
      <form id="group-settings" class="stack" novalidate @submit=${this.save}>
        <gcds-input
          input-id="settings-name-en"
          name="nameEn"
          label=${t.create.nameEn}
          maxlength="120"
          value=${g.names.en ?? (g.names.fr ? '' : g.name)}
        ></gcds-input>
        <gcds-input
          input-id="settings-name-fr"
          name="nameFr"
          label=${t.create.nameFr}
          maxlength="120"
          value=${g.names.fr ?? ''}
        ></gcds-input>
        ${this.editors.descriptionEn.template()} ${this.editors.descriptionFr.template()}
        <gcds-select
          select-id="settings-visibility"
          name="visibility"
          label=${t.create.visibility}
          value=${g.visibility}
        >
          ${(['public', 'node', 'members'] as const).map(
            (v) => html`<option value=${v} ?selected=${g.visibility === v}>${t.group.visibility[v]}</option>`,
          )}
        </gcds-select>
        <gcds-select
          select-id="settings-join"
          name="joinPolicy"
          label=${t.create.joinPolicy}
          value=${g.joinPolicy}
        >
          ${(['open', 'request', 'invite'] as const).map(
            (v) => html`<option value=${v} ?selected=${g.joinPolicy === v}>${t.group.joinPolicy[v]}</option>`,
          )}
        </gcds-select>
        ${this.editors.welcome.template()} ${this.saving.feedback()}
        <gcds-button type="submit">${t.common.save}</gcds-button>
      </form>
      <section aria-labelledby="images-heading">
        <h2 id="images-heading">${t.settings.images}</h2>
        ${this.imageForm('avatar')} ${this.imageForm('banner')} ${this.images.feedback()}
      </section>
      ${
        this.can('delete')
          ? html`<section aria-labelledby="delete-heading" class="danger-zone">
              <h2 id="delete-heading">${t.settings.danger}</h2>
              <p>${t.settings.deleteHelp}</p>
              ${this.deleting.feedback()}
              <gcds-button button-role="danger" id="delete-group" @click=${() => this.remove()}
                >${t.settings.deleteGroup}</gcds-button
              >
            </section>`
          : nothing
      }`;
  }
}
