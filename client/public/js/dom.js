// Small DOM helpers. Text always goes in as text; the only HTML ever inserted is a post body or a group
// description, which the server sanitised when it was written (server/core/html.ts).

/** h('a', { href, class: 'x', onclick }, 'text', child) → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An element holding server-sanitised HTML (a post body). */
export function sanitised(tag, html, attrs = {}) {
  const el = h(tag, attrs);
  el.innerHTML = html;
  return el;
}

/** A <select> of `[value, text]` pairs. */
export function choice(attrs, options) {
  return h(
    'select',
    attrs,
    options.map(([value, text]) => h('option', { value }, text)),
  );
}

/** Replace everything in `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A form's fields as an object of trimmed strings. */
export function fields(form) {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
}

export function time(iso, lang) {
  const d = new Date(iso);
  return h('time', { datetime: iso }, d.toLocaleString(lang === 'fr' ? 'fr-CA' : 'en-CA'));
}
