// The REST API (/api/v1) as the browser uses it: JSON in and out, the CSRF token on every write, and
// problem details turned into an ApiError whose message a person can read.

let csrfToken;

export class ApiError extends Error {
  constructor(status, problem) {
    const fieldErrors = (problem?.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
    super([problem?.detail ?? problem?.title ?? `HTTP ${status}`, fieldErrors].filter(Boolean).join(' — '));
    this.status = status;
    this.problem = problem;
  }
}

async function token() {
  if (!csrfToken) csrfToken = (await (await fetch('/api/v1/auth/csrf')).json()).token;
  return csrfToken;
}

/** GET when only a path is given; otherwise the method and an optional JSON body. */
export function api(path, method = 'GET', body = undefined) {
  const json = body === undefined ? undefined : JSON.stringify(body);
  return send(path, method, json === undefined ? {} : { 'content-type': 'application/json' }, json);
}

/** POST a multipart form (files); the browser sets its content type and boundary. */
export function apiUpload(path, formData) {
  return send(path, 'POST', {}, formData);
}

async function send(path, method, extraHeaders, body, retried = false) {
  const headers = { accept: 'application/json', ...extraHeaders };
  if (method !== 'GET') headers['x-csrf-token'] = await token();
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body });
  if (res.status === 204) return null;
  const data = (res.headers.get('content-type') ?? '').includes('json') ? await res.json() : null;
  if (!res.ok) {
    // A token from before a sign-in no longer matches the session: fetch a fresh one, once.
    if (res.status === 403 && data?.type?.includes('csrf') && !retried) {
      csrfToken = undefined;
      return send(path, method, extraHeaders, body, true);
    }
    throw new ApiError(res.status, data);
  }
  return data;
}

export const enc = encodeURIComponent;
