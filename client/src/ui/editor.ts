// A Markdown editor: a labelled textarea, a preview rendered by the server exactly as the post would be
// written (POST /posts/preview: mentions linked, sanitised), and @mention completion. Typing @ and part of
// a name lists matching people (the directory); the arrow keys move through them, Enter or Tab takes one,
// Escape closes the list. The list is announced (aria-activedescendant, a polite status with the count), so
// it works from the keyboard and with a screen reader.
import { html, nothing } from 'lit';
import { live as liveValue } from 'lit/directives/live.js';
import { data, http, type Profile } from '../api/api';
import { t } from '../i18n/i18n';
import { errorText } from './form';
import { sanitised } from './html';

const MENTION_BEFORE_CARET = /(^|[^\w@/])@([a-z0-9][a-z0-9._-]{0,29})$/i;
const SUGGESTIONS = 6;
const DEBOUNCE_MS = 150;

export class MarkdownEditor {
  mode: 'write' | 'preview' = 'write';
  private previewHtml = '';
  private previewError = '';
  private suggestions: Profile[] = [];
  private active = -1;
  private query: { start: number; text: string } | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lookup = 0;
  value = '';

  constructor(
    private readonly options: {
      id: string;
      name: string;
      /** Functions, so a language switch redraws them in the new language. */
      label: () => string;
      update: () => void;
      rows?: number;
      required?: boolean;
      hint?: () => string;
      mentions?: boolean;
    },
  ) {}

  private get textarea(): HTMLTextAreaElement | null {
    return document.getElementById(this.options.id) as HTMLTextAreaElement | null;
  }

  reset() {
    this.value = '';
    this.mode = 'write';
    this.previewHtml = '';
    this.close();
  }

  focus() {
    if (this.mode !== 'write') {
      this.mode = 'write';
      this.options.update();
    }
    setTimeout(() => this.textarea?.focus(), 0);
  }

  private close() {
    this.suggestions = [];
    this.active = -1;
    this.query = null;
  }

  private async showPreview() {
    this.mode = 'preview';
    this.previewError = '';
    this.previewHtml = '';
    this.options.update();
    if (!this.value.trim()) return;
    try {
      this.previewHtml = (await data(http.POST('/posts/preview', { body: { body: this.value } }))).html;
    } catch (err) {
      this.previewError = errorText(err);
    }
    this.options.update();
  }

  private onInput(e: Event) {
    const area = e.target as HTMLTextAreaElement;
    this.value = area.value;
    if (this.options.mentions === false) return;
    const before = area.value.slice(0, area.selectionStart);
    const m = MENTION_BEFORE_CARET.exec(before);
    clearTimeout(this.timer);
    if (!m) {
      if (this.suggestions.length || this.query) {
        this.close();
        this.options.update();
      }
      return;
    }
    const text = m[2]!;
    this.query = { start: area.selectionStart - text.length - 1, text };
    const lookup = ++this.lookup;
    this.timer = setTimeout(async () => {
      try {
        const page = await data(http.GET('/people', { params: { query: { q: text, limit: SUGGESTIONS } } }));
        if (lookup !== this.lookup || !this.query) return;
        this.suggestions = page.items;
        this.active = page.items.length ? 0 : -1;
      } catch {
        this.suggestions = [];
      }
      this.options.update();
    }, DEBOUNCE_MS);
  }

  private choose(person: Profile) {
    const area = this.textarea;
    if (!area || !this.query) return;
    const start = this.query.start;
    const end = start + 1 + this.query.text.length;
    const insert = `@${person.handle} `;
    this.value = area.value.slice(0, start) + insert + area.value.slice(end);
    area.value = this.value;
    const caret = start + insert.length;
    area.setSelectionRange(caret, caret);
    this.close();
    this.options.update();
    area.focus();
  }

  private onKeydown(e: KeyboardEvent) {
    if (!this.suggestions.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = this.suggestions.length;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.options.update();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && this.active >= 0) {
      e.preventDefault();
      this.choose(this.suggestions[this.active]!);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      this.close();
      this.options.update();
    }
  }

  template() {
    const { id, name, label, rows = 4, required } = this.options;
    const listId = `${id}-suggestions`;
    const open = this.suggestions.length > 0;
    const hintId = `${id}-hint`;
    return html`<div class="editor">
      <div class="editor-head">
        <label for=${id} class="editor-label">${label()}</label>
        <div class="editor-modes">
          <button
            type="button"
            class="mode"
            aria-pressed=${this.mode === 'write' ? 'true' : 'false'}
            @click=${() => this.focus()}
          >
            ${t.editor.write}
          </button>
          <button
            type="button"
            class="mode"
            aria-pressed=${this.mode === 'preview' ? 'true' : 'false'}
            aria-controls=${`${id}-preview`}
            @click=${() => this.showPreview()}
          >
            ${t.editor.preview}
          </button>
        </div>
      </div>
      <p class="hint" id=${hintId}>
        ${this.options.hint?.() ?? ''} ${this.options.mentions === false ? '' : t.editor.mentionHelp}
      </p>
      <div class="editor-write" ?hidden=${this.mode !== 'write'}>
        <textarea
          id=${id}
          name=${name}
          rows=${rows}
          ?required=${required}
          maxlength="20000"
          aria-describedby=${hintId}
          aria-autocomplete=${this.options.mentions === false ? nothing : 'list'}
          aria-controls=${open ? listId : nothing}
          aria-activedescendant=${open && this.active >= 0 ? `${listId}-${this.active}` : nothing}
          .value=${liveValue(this.value)}
          @input=${(e: Event) => this.onInput(e)}
          @keydown=${(e: KeyboardEvent) => this.onKeydown(e)}
          @blur=${() =>
            setTimeout(() => {
              if (this.suggestions.length) {
                this.close();
                this.options.update();
              }
            }, 200)}
        ></textarea>
        ${
          open
            ? html`<ul class="suggestions" role="listbox" id=${listId} aria-label=${t.editor.suggestions}>
                ${this.suggestions.map(
                  (p, i) =>
                    html`<li
                      role="option"
                      id=${`${listId}-${i}`}
                      aria-selected=${i === this.active ? 'true' : 'false'}
                      @mousedown=${(e: Event) => {
                        e.preventDefault();
                        this.choose(p);
                      }}
                    >
                      ${p.displayName} <span class="muted">@${p.handle}</span>
                    </li>`,
                )}
              </ul>`
            : nothing
        }
        <p class="sr-only" role="status">
          ${this.query ? t.editor.suggestionCount(this.suggestions.length) : ''}
        </p>
      </div>
      <div
        class="editor-preview body"
        id=${`${id}-preview`}
        ?hidden=${this.mode !== 'preview'}
        aria-live="polite"
      >
        ${
          this.previewError
            ? html`<p class="form-error">${this.previewError}</p>`
            : this.previewHtml
              ? sanitised(this.previewHtml)
              : html`<p class="muted">${this.value.trim() ? t.app.loading : t.editor.nothingToPreview}</p>`
        }
      </div>
    </div>`;
  }
}
