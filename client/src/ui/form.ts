// Forms that write through the API. The design system's fields validate themselves on submit (their
// messages are shown under each field); a write the server refuses shows its problem details in the form
// (role=alert), and a written one can say so (role=status) and clear the form.
import { html, nothing } from 'lit';
import { ApiError } from '../api/api';
import { t } from '../i18n/i18n';

export function errorText(err: unknown): string {
  // Too many changes in a minute (docs/operations.md, "Rate limits"): said in the reader's language.
  if (err instanceof ApiError && err.status === 429) return t.common.tooManyChanges(err.retryAfter);
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === 'AbortError') return '';
  return err instanceof Error ? err.message : String(err);
}

/** One write a page offers: its error, whether it runs, what it said when done. */
export class Action {
  error = '';
  done = '';
  busy = false;
  constructor(private readonly update: () => void) {}

  /** Run `write`; its refusal is kept as `error`, `success` (if any) as `done`. Resolves to success. */
  async run(write: () => Promise<unknown>, success = ''): Promise<boolean> {
    this.busy = true;
    this.error = '';
    this.done = '';
    this.update();
    try {
      await write();
      this.done = success;
      return true;
    } catch (err) {
      this.error = errorText(err) || t.common.error;
      return false;
    } finally {
      this.busy = false;
      this.update();
    }
  }

  /** The error (role=alert) and the success note (role=status) under a form or button. */
  feedback() {
    return html`<p class="form-error" role="alert">${this.error || nothing}</p>
      <p class="form-done" role="status">${this.done || nothing}</p>`;
  }
}

/**
 * A submit handler: the design system's fields validate first (they listen on the document, after this
 * handler), then `run` gets the form's fields. Forms carry `novalidate` so the fields show their own
 * messages instead of the browser's bubbles.
 */
export function submitter(run: (fields: Record<string, string>, form: HTMLFormElement) => unknown) {
  return (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    setTimeout(() => {
      if (!form.checkValidity()) {
        form.querySelector<HTMLElement>(':invalid')?.focus();
        return;
      }
      void run(fields(form), form);
    }, 0);
  };
}

/** A form's fields as trimmed strings (the last value of a repeated name). */
export function fields(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string') out[k] = v.trim();
  return out;
}

/** Every value of a repeated field (checkboxes). */
export const values = (form: HTMLFormElement, name: string): string[] =>
  new FormData(form).getAll(name).filter((v): v is string => typeof v === 'string');
