// A file input whose every word is in the page's language: the browser's own button and "no file chosen"
// follow the browser's language, not the page's. The native input stays (keyboard, screen readers, forms),
// visually replaced by a button-like label and the names of the chosen files (a polite live region).
import { html } from 'lit';
import { list } from '../i18n/format';
import { t } from '../i18n/i18n';

export class FileField {
  private chosen: string[] = [];

  constructor(
    private readonly options: {
      id: string;
      /** Functions, so a language switch redraws them in the new language. */
      label: () => string;
      name?: string;
      multiple?: boolean;
      accept?: string;
      hint?: () => string;
      update: () => void;
    },
  ) {}

  get input(): HTMLInputElement | null {
    return document.getElementById(this.options.id) as HTMLInputElement | null;
  }

  /** The form was reset (or the files sent): nothing is chosen any more. */
  reset() {
    if (this.input) this.input.value = '';
    this.chosen = [];
    this.options.update();
  }

  template() {
    const { id, label, name = 'files', multiple = false, accept, hint } = this.options;
    const describedBy = [hint ? `${id}-hint` : '', `${id}-chosen`].filter(Boolean).join(' ');
    return html`<div class="file-field">
      <span class="file-label" id=${`${id}-label`}>${label()}</span>
      ${hint ? html`<span class="hint" id=${`${id}-hint`}>${hint()}</span>` : ''}
      <div class="file-picker">
        <input
          class="file-input"
          id=${id}
          type="file"
          name=${name}
          ?multiple=${multiple}
          accept=${accept ?? ''}
          aria-labelledby=${`${id}-label`}
          aria-describedby=${describedBy}
          @change=${(e: Event) => {
            this.chosen = [...((e.target as HTMLInputElement).files ?? [])].map((f) => f.name);
            this.options.update();
          }}
        />
        <label for=${id} class="file-button" aria-hidden="true"
          >${multiple ? t.files.chooseMany : t.files.chooseOne}</label
        >
        <span class="file-chosen muted" id=${`${id}-chosen`} aria-live="polite"
          >${this.chosen.length ? list(this.chosen) : t.files.noneChosen}</span
        >
      </div>
    </div>`;
  }
}
