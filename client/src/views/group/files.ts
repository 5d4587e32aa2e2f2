// /groups/<handle>/files: the group's library. Folders to open and create, files with their size, date
// and version, previews of images, details with every version (each downloadable), uploads of several
// files with a progress bar and cancel each, a new version of a file (with progress), deleting, and the
// deleted files moderators and uploaders can restore. Kept current by the group's room.
import { html, nothing } from 'lit';
import { data, http, upload, type FileDetail, type Folder, type LibraryFile } from '../../api/api';
import { bytes, dateTime } from '../../i18n/format';
import { t } from '../../i18n/i18n';
import type { LiveEvent } from '../../live';
import { refresher } from '../../refresher';
import { confirmDialog } from '../../ui/dialog';
import { Action, submitter } from '../../ui/form';
import { when } from '../../ui/html';
import { Uploader } from '../../ui/uploader';
import { GroupPage, libraryHere } from './group.page';

export class GroupFilesPage extends GroupPage {
  protected readonly tab = 'files' as const;
  /** The folders opened from the root, in order (the last one is shown). */
  private trail: Folder[] = [];
  private folders: Folder[] = [];
  private files: LibraryFile[] = [];
  private deleted: LibraryFile[] | null = null;
  private nextCursor: string | null = null;
  private open: FileDetail | null = null;
  private readonly result = new Action(() => this.update());
  private readonly folderAction = new Action(() => this.update());
  private readonly uploader = new Uploader({
    id: 'library-files',
    label: () => t.files.chooseFiles,
    button: () => t.files.upload,
    multiple: true,
    update: () => this.update(),
    send: async (file, onProgress, signal) => {
      const form = new FormData();
      form.append('files', file);
      const folder = this.folder;
      await upload('/groups/{group}/files', {
        params: { group: this.handle },
        ...(folder ? { query: { folder } } : {}),
        form,
        onProgress,
        signal,
      });
    },
    done: () => void this.refresh(),
  });
  private readonly versionUploader = new Uploader({
    id: 'new-version',
    label: () => t.files.chooseVersion,
    button: () => t.files.replace,
    multiple: false,
    update: () => this.update(),
    send: async (file, onProgress, signal) => {
      if (!this.open) return;
      const form = new FormData();
      form.append('file', file);
      const replaced = await upload('/files/{id}/versions', {
        params: { id: this.open.id },
        form,
        onProgress,
        signal,
      });
      this.ctx.announce(t.files.replaced(replaced.name, replaced.version));
    },
    done: () => void this.readOpen(),
  });

  tabTitle() {
    return t.files.title;
  }

  private get folder(): string | undefined {
    return this.trail.at(-1)?.id;
  }

  private get moderator() {
    return this.can('moderate');
  }

  private mayChange(f: { createdBy: string | null }) {
    return this.moderator || (this.ctx.me !== null && f.createdBy === this.ctx.me.profile.id);
  }

  private readonly refresh = refresher(async () => {
    const folder = this.folder;
    const listing = await data(
      http.GET('/groups/{group}/files', {
        params: { path: { group: this.handle }, query: { limit: 100, ...(folder ? { folder } : {}) } },
      }),
    );
    this.folders = listing.folders;
    this.files = listing.files;
    this.nextCursor = listing.nextCursor;
    for (const f of listing.files) this.names.set(f.id, f.name);
    if (this.deleted !== null) await this.readDeleted();
    this.update();
  });

  private async readDeleted() {
    const listing = await data(
      http.GET('/groups/{group}/files', {
        params: { path: { group: this.handle }, query: { deleted: 'true', limit: 100 } },
      }),
    );
    this.deleted = listing.files;
  }

  private async readOpen() {
    if (!this.open) return;
    this.open = await data(http.GET('/files/{id}', { params: { path: { id: this.open.id } } }));
    await this.refresh();
  }

  protected async loadTab() {
    if (libraryHere(this.group)) await this.refresh();
  }

  protected catchUp() {
    return libraryHere(this.group) ? this.refresh() : Promise.resolve();
  }

  protected listen(on: (event: string, handler: (e: LiveEvent) => void) => void) {
    for (const event of [
      'file.uploaded',
      'file.replaced',
      'file.updated',
      'file.deleted',
      'file.restored',
      'folder.changed',
    ])
      on(event, (e) => {
        void this.refresh();
        if (this.open && e.fileId === this.open.id && event !== 'file.deleted') void this.readOpen();
      });
  }

  private async more() {
    if (!this.nextCursor) return;
    const folder = this.folder;
    const listing = await data(
      http.GET('/groups/{group}/files', {
        params: {
          path: { group: this.handle },
          query: { limit: 100, cursor: this.nextCursor, ...(folder ? { folder } : {}) },
        },
      }),
    );
    this.files = [...this.files, ...listing.files];
    this.nextCursor = listing.nextCursor;
    this.update();
  }

  private async go(trail: Folder[]) {
    this.trail = trail;
    this.open = null;
    await this.refresh();
    document.getElementById('library-heading')?.focus();
  }

  private readonly createFolder = submitter(async (f, form) => {
    const parentId = this.folder;
    const ok = await this.folderAction.run(() =>
      http.POST('/groups/{group}/folders', {
        ...this.params,
        body: { name: f.name ?? '', ...(parentId ? { parentId } : {}) },
      }),
    );
    if (ok) {
      form.reset();
      await this.refresh();
    }
  });

  private async details(file: LibraryFile) {
    if (this.open?.id === file.id) {
      this.open = null;
      this.update();
      return;
    }
    this.open = await data(http.GET('/files/{id}', { params: { path: { id: file.id } } }));
    this.update();
    document.getElementById('file-details-heading')?.focus();
  }

  private async remove(file: { id: string; name: string }) {
    if (!(await confirmDialog(t.files.confirmDelete(file.name), t.files.deleteFile))) return;
    await this.result.run(async () => {
      await http.DELETE('/files/{id}', { params: { path: { id: file.id } } });
      if (this.open?.id === file.id) this.open = null;
      await this.refresh();
    });
  }

  private async restore(file: LibraryFile) {
    await this.result.run(async () => {
      await http.POST('/files/{id}/restore', { params: { path: { id: file.id } } });
      await this.refresh();
    }, t.files.restored(file.name));
  }

  private async showDeleted() {
    await this.readDeleted();
    this.update();
  }

  private preview(f: { thumbnailUrl: string | null; contentType: string; name: string }) {
    return f.thumbnailUrl && f.contentType.startsWith('image/')
      ? html`<img class="thumbnail" src=${f.thumbnailUrl} alt=${t.files.preview(f.name)} loading="lazy" />`
      : nothing;
  }

  private fileRow(f: LibraryFile) {
    return html`<tr data-id=${f.id} data-name=${f.name}>
      <th scope="row">
        ${this.preview(f)}
        <button
          type="button"
          class="link-button file-name"
          aria-expanded=${this.open?.id === f.id ? 'true' : 'false'}
          @click=${() => this.details(f)}
        >
          ${f.name}
        </button>
      </th>
      <td>${bytes(f.size)}</td>
      <td><time datetime=${f.updatedAt}>${dateTime(f.updatedAt)}</time></td>
      <td>${f.version}</td>
      <td>
        <a href=${f.url} download=${f.name}>${t.files.download}<span class="sr-only"> ${f.name}</span></a>
      </td>
    </tr>`;
  }

  private detailsPanel(f: FileDetail) {
    return html`<section class="file-details" aria-labelledby="file-details-heading">
      <h3 id="file-details-heading" tabindex="-1">${t.files.details(f.name)}</h3>
      ${this.preview(f)}
      <table class="versions">
        <caption>
          ${t.files.versions}
        </caption>
        <thead>
          <tr>
            <th scope="col">${t.files.version}</th>
            <th scope="col">${t.files.name}</th>
            <th scope="col">${t.files.size}</th>
            <th scope="col">${t.files.modified}</th>
            <th scope="col"><span class="sr-only">${t.files.download}</span></th>
          </tr>
        </thead>
        <tbody>
          ${[...f.versions]
            .sort((a, b) => b.n - a.n)
            .map(
              (v) =>
                html`<tr data-version=${v.n}>
                  <td>${v.n}</td>
                  <td>${v.name}</td>
                  <td>${bytes(v.size)}</td>
                  <td>${when(v.uploadedAt)}</td>
                  <td><a href=${v.url} download=${v.name}>${t.files.downloadVersion(v.n)}</a></td>
                </tr>`,
            )}
        </tbody>
      </table>
      ${
        this.mayChange(f)
          ? html`${this.versionUploader.template()}
              <gcds-button button-role="danger" size="small" @click=${() => this.remove(f)}
                >${t.files.deleteFile}</gcds-button
              >`
          : nothing
      }
    </section>`;
  }

  /** A group hosted on another node: its library is there; this page says so and links to it. */
  private elsewhere(origin: { host: string; url: string }) {
    return html`<h2 id="library-heading" tabindex="-1">${t.files.root}</h2>
      <section id="remote-library" class="stack">
        <p>${t.files.libraryElsewhere(origin.host)}</p>
        <p>${t.files.attachmentsTravel}</p>
        <p>
          <a href=${`${origin.url.replace(/\/$/, '')}/files`} rel="external"
            >${t.files.openLibraryThere(origin.host)}</a
          >
        </p>
      </section>`;
  }

  protected renderTab() {
    const origin = this.origin;
    if (origin && !libraryHere(this.group)) return this.elsewhere(origin);
    const here = this.trail.at(-1);
    return html`<h2 id="library-heading" tabindex="-1">${here ? here.name : t.files.root}</h2>
      ${
        this.trail.length
          ? html`<nav aria-label=${t.files.folder} class="folder-trail">
              <ol>
                <li>
                  <button type="button" class="link-button" @click=${() => this.go([])}>
                    ${t.files.root}
                  </button>
                </li>
                ${this.trail.slice(0, -1).map(
                  (folder, i) =>
                    html`<li>
                      <button
                        type="button"
                        class="link-button"
                        @click=${() => this.go(this.trail.slice(0, i + 1))}
                      >
                        ${folder.name}
                      </button>
                    </li>`,
                )}
                <li aria-current="page">${here!.name}</li>
              </ol>
            </nav>`
          : nothing
      }
      <p class="muted">${t.files.summary(this.files.length, this.folders.length)}</p>
      ${this.result.feedback()}
      ${
        this.folders.length
          ? html`<ul class="folders" id="folders">
              ${this.folders.map(
                (folder) =>
                  html`<li>
                    <button
                      type="button"
                      class="link-button folder"
                      @click=${() => this.go([...this.trail, folder])}
                    >
                      <span aria-hidden="true">📁</span> ${folder.name}
                    </button>
                  </li>`,
              )}
            </ul>`
          : nothing
      }
      ${
        this.files.length
          ? html`<table id="files" class="files">
              <caption class="sr-only">
                ${here ? here.name : t.files.root}
              </caption>
              <thead>
                <tr>
                  <th scope="col">${t.files.name}</th>
                  <th scope="col">${t.files.size}</th>
                  <th scope="col">${t.files.modified}</th>
                  <th scope="col">${t.files.version}</th>
                  <th scope="col"><span class="sr-only">${t.files.download}</span></th>
                </tr>
              </thead>
              <tbody>
                ${this.files.map((f) => this.fileRow(f))}
              </tbody>
            </table>`
          : html`<p class="muted" id="files">${t.files.none}</p>`
      }
      ${
        this.nextCursor
          ? html`<gcds-button button-role="secondary" @click=${() => this.more()}
              >${t.common.loadMore}</gcds-button
            >`
          : nothing
      }
      ${this.open ? this.detailsPanel(this.open) : nothing}
      ${
        this.can('post')
          ? html`<section aria-labelledby="upload-heading" id="upload">
                <h3 id="upload-heading">${t.files.chooseFiles}</h3>
                ${this.uploader.template()}
              </section>
              <details class="new-folder">
                <summary>${t.files.newFolder}</summary>
                <form id="new-folder" class="stack" novalidate @submit=${this.createFolder}>
                  <gcds-input
                    input-id="folder-name"
                    name="name"
                    label=${t.files.folderName}
                    required
                    maxlength="255"
                  ></gcds-input>
                  ${this.folderAction.feedback()}
                  <gcds-button type="submit" button-role="secondary">${t.files.createFolder}</gcds-button>
                </form>
              </details>`
          : nothing
      }
      ${
        this.moderator
          ? html`<section aria-labelledby="deleted-heading">
              <h3 id="deleted-heading">${t.files.deleted}</h3>
              ${
                this.deleted === null
                  ? html`<gcds-button button-role="secondary" size="small" @click=${() => this.showDeleted()}
                      >${t.files.showDeleted}</gcds-button
                    >`
                  : this.deleted.length
                    ? html`<ul id="deleted-files">
                        ${this.deleted.map(
                          (f) =>
                            html`<li data-name=${f.name}>
                              ${f.name} <span class="muted">${bytes(f.size)}</span>
                              ${
                                this.mayChange(f)
                                  ? html`<gcds-button
                                      size="small"
                                      button-role="secondary"
                                      @click=${() => this.restore(f)}
                                      >${t.files.restore}<span class="sr-only"> ${f.name}</span></gcds-button
                                    >`
                                  : nothing
                              }
                            </li>`,
                        )}
                      </ul>`
                    : html`<p class="muted">${t.files.noDeleted}</p>`
              }
            </section>`
          : nothing
      }`;
  }
}
