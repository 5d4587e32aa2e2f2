// A form that sends its fields to the API: the problem details of a refused write are shown in the form,
// and a written one clears it.
import { ApiError } from './api.js';
import { fields, h } from './dom.js';

/** <label>text <control></label> */
export const labelled = (text, control) => h('label', {}, text, control);

/**
 * A form of `children` and a submit button; `submit(fields, form)` writes, its errors are shown in the
 * form.
 */
export function apiForm(attrs, button, children, submit) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'stack', ...attrs },
    children,
    error,
    h('button', { type: 'submit' }, button),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await submit(fields(form), form);
      form.reset();
      error.textContent = '';
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : String(err);
    }
  });
  return form;
}
