// Uploading files with a progress bar each and a cancel button each: one request per file (so each has its
// own progress and can be cancelled alone), one after the other. What happened to each file is said in a
// polite live region.
import { html, nothing } from 'lit';
import { t } from '../i18n/i18n';
import { percent } from '../i18n/format';
import { FileField } from './file-field';
import { errorText } from './form';

interface Item {
  key: number;
  file: File;
  sent: number;
  state: 'waiting' | 'uploading' | 'done' | 'cancelled' | 'failed';
  error: string;
  controller: AbortController;
}

let keys = 0;

export class Uploader {
  private items: Item[] = [];
  private running = false;
  private said = '';

  private readonly field: FileField;

  constructor(
    private readonly options: {
      id: string;
      /** Functions, so a language switch redraws them in the new language. */
      label: () => string;
      button: () => string;
      multiple: boolean;
      update: () => void;
      /** Send one file; report the fraction sent; stop when the signal aborts. */
      send: (file: File, onProgress: (sent: number) => void, signal: AbortSignal) => Promise<void>;
      /** Each file done (the list can be read again). */
      done?: (file: File) => void;
    },
  ) {
    this.field = new FileField({
      id: options.id,
      label: options.label,
      multiple: options.multiple,
      update: options.update,
    });
  }

  private get input(): HTMLInputElement | null {
    return document.getElementById(this.options.id) as HTMLInputElement | null;
  }

  get busy() {
    return this.running;
  }

  private say(text: string) {
    this.said = text;
    this.options.update();
  }

  private start(e: Event) {
    e.preventDefault();
    const input = this.input;
    if (!input?.files?.length) {
      input?.focus();
      return;
    }
    for (const file of input.files)
      this.items.push({
        key: ++keys,
        file,
        sent: 0,
        state: 'waiting',
        error: '',
        controller: new AbortController(),
      });
    this.field.reset();
    void this.run();
  }

  private async run() {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const item = this.items.find((i) => i.state === 'waiting');
        if (!item) break;
        item.state = 'uploading';
        this.say(t.files.uploading(item.file.name));
        try {
          await this.options.send(
            item.file,
            (sent) => {
              item.sent = sent;
              this.options.update();
            },
            item.controller.signal,
          );
          item.state = 'done';
          item.sent = 1;
          this.say(t.files.uploaded(item.file.name));
          this.options.done?.(item.file);
        } catch (err) {
          if (item.controller.signal.aborted) {
            item.state = 'cancelled';
            this.say(t.files.cancelled(item.file.name));
          } else {
            item.state = 'failed';
            item.error = errorText(err) || t.common.error;
            this.say(t.files.failed(item.file.name, item.error));
          }
        }
      }
    } finally {
      this.running = false;
      this.options.update();
    }
  }

  private cancel(item: Item) {
    if (item.state === 'waiting') {
      item.state = 'cancelled';
      this.say(t.files.cancelled(item.file.name));
    } else item.controller.abort();
  }

  private clearFinished() {
    this.items = this.items.filter((i) => i.state === 'waiting' || i.state === 'uploading');
  }

  template() {
    const { id, button } = this.options;
    if (!this.running) this.clearFinishedLater();
    return html`<form
      class="uploader stack"
      id=${`${id}-form`}
      novalidate
      @submit=${(e: Event) => this.start(e)}
    >
      ${this.field.template()}
      <gcds-button type="submit" button-role="secondary">${button()}</gcds-button>
      ${
        this.items.length
          ? html`<ul class="uploads">
              ${this.items.map(
                (item) =>
                  html`<li class=${`upload ${item.state}`} data-name=${item.file.name}>
                    <span class="name">${item.file.name}</span>
                    <progress
                      max="1"
                      .value=${item.sent}
                      aria-label=${t.files.progress(item.file.name, item.sent)}
                    ></progress>
                    <span class="percent" aria-hidden="true">${percent(item.sent)}</span>
                    ${
                      item.state === 'waiting' || item.state === 'uploading'
                        ? html`<button
                            type="button"
                            class="cancel link-button"
                            @click=${() => this.cancel(item)}
                          >
                            ${t.common.cancel}<span class="sr-only">
                              ${t.files.cancelUpload(item.file.name)}</span
                            >
                          </button>`
                        : nothing
                    }
                    ${item.state === 'failed' ? html`<span class="form-error">${item.error}</span>` : nothing}
                    ${item.state === 'cancelled' ? html`<span class="muted">${t.files.cancelled(item.file.name)}</span>` : nothing}
                  </li>`,
              )}
            </ul>`
          : nothing
      }
      <p class="sr-only" role="status">${this.said}</p>
    </form>`;
  }

  private clearTimer: ReturnType<typeof setTimeout> | undefined;
  /** Finished uploads stay shown a while, then leave the list. */
  private clearFinishedLater() {
    if (this.clearTimer || !this.items.some((i) => i.state !== 'waiting' && i.state !== 'uploading')) return;
    this.clearTimer = setTimeout(() => {
      this.clearTimer = undefined;
      if (this.running) return;
      this.clearFinished();
      this.options.update();
    }, 8000);
  }
}
