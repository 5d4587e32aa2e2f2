// The REST API (/api/v1) as the browser uses it, typed from the OpenAPI document (schema.d.ts is generated
// from docs/api/openapi.json by scripts/build-client.mjs): a route or a response shape that changes under
// the client fails `npm run typecheck`. JSON in and out, the CSRF token on every write, and problem details
// (docs/api/problems.md) turned into an ApiError a person can read.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

export type { paths };

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    /** Seconds the server asks to wait before trying again (Retry-After), when it says. */
    readonly retryAfter: number | null = null,
  ) {
    const fieldErrors = (problem?.errors ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
    super([problem?.detail ?? problem?.title ?? `HTTP ${status}`, fieldErrors].filter(Boolean).join(' — '));
  }
}

let csrfToken: string | undefined;

/** The token state-changing requests send as X-CSRF-Token (read once per page). */
export async function csrf(): Promise<string> {
  if (!csrfToken) {
    const res = await fetch('/api/v1/auth/csrf', { headers: { accept: 'application/json' } });
    csrfToken = ((await res.json()) as { token: string }).token;
  }
  return csrfToken;
}

const guard: Middleware = {
  async onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      request.headers.set('x-csrf-token', await csrf());
    return request;
  },
  async onResponse({ response }) {
    if (response.ok) return response;
    const type = response.headers.get('content-type') ?? '';
    const problem = type.includes('json') ? ((await response.clone().json()) as Problem) : null;
    // A token from before a sign-in no longer matches the session: the next write reads a fresh one.
    if (response.status === 403 && problem?.type?.includes('csrf')) csrfToken = undefined;
    const retryAfter = Number(response.headers.get('retry-after') ?? '');
    throw new ApiError(response.status, problem, retryAfter > 0 ? retryAfter : null);
  },
};

/** The typed client: `http.GET('/groups/{group}', { params: { path: { group } } })`. */
export const http = createClient<paths>({
  baseUrl: '/api/v1',
  credentials: 'same-origin',
  headers: { accept: 'application/json' },
});
http.use(guard);

/** The data of a successful call (a refusal has already been thrown as an ApiError). */
export async function data<T>(call: Promise<{ data?: T }>): Promise<T> {
  return (await call).data as T;
}

type Json<R> = R extends { content: { 'application/json': infer J } } ? J : never;
/** The JSON a route answers on success. */
export type Ok<
  P extends keyof paths,
  M extends 'get' | 'post' | 'put' | 'patch' | 'delete',
> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: infer S }
    ? Json<S>
    : R extends { 201: infer S }
      ? Json<S>
      : never
  : never;
/** The JSON body a route takes. */
export type Body<P extends keyof paths, M extends 'post' | 'put' | 'patch'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

export type Me = Ok<'/me', 'get'>;
export type Profile = Ok<'/people/{handle}', 'get'>;
export type ProfilePatch = Body<'/me/profile', 'patch'>;
export type Organization = Ok<'/organizations/{slug}', 'get'>;
export type Group = Ok<'/groups/{group}', 'get'>;
export type GroupInput = Body<'/groups', 'post'>;
export type GroupPatch = Body<'/groups/{group}', 'patch'>;
export type Member = Ok<'/groups/{group}/members', 'get'>['items'][number];
export type AuditEntry = Ok<'/groups/{group}/audit', 'get'>[number];
export type Thread = Ok<'/threads/{id}', 'get'>;
export type Reply = Ok<'/replies/{id}', 'get'>;
export type Attachment = Thread['attachments'][number];
export type FeedItem = Ok<'/feed', 'get'>['items'][number];
export type Report = Ok<'/groups/{group}/reports', 'get'>[number];
export type Library = Ok<'/groups/{group}/files', 'get'>;
export type LibraryFile = Library['files'][number];
export type Folder = Library['folders'][number];
export type FileDetail = Ok<'/files/{id}', 'get'>;
export type Notification = Ok<'/notifications', 'get'>['items'][number];
export type DeliveryMetrics = Ok<'/admin/federation/deliveries', 'get'>;
export type Provider = Ok<'/auth/providers', 'get'>[number];
export type Lookup = Ok<'/lookup', 'get'>;
export type NodeSettings = Ok<'/admin/settings', 'get'>;
export type FederationPolicy = Ok<'/admin/federation/policy', 'get'>;
export type SettingsHistory = Ok<'/admin/settings/history', 'get'>;

/**
 * A multipart upload with progress, which fetch() cannot report: XMLHttpRequest, with the CSRF token.
 * `onProgress` gets the fraction sent (0..1); the signal cancels it (the promise then rejects with an
 * AbortError). The path and its answer are typed from the OpenAPI document like every other call.
 */
export function upload<P extends keyof paths, M extends 'post' | 'put' = 'post'>(
  path: P,
  options: {
    method?: M;
    params: Record<string, string>;
    query?: Record<string, string>;
    form: FormData;
    onProgress?: (sent: number) => void;
    signal?: AbortSignal;
  },
): Promise<Ok<P, M>> {
  const url = `/api/v1${path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(options.params[k] ?? ''))}`;
  const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
  return csrf().then(
    (token) =>
      new Promise<Ok<P, M>>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open((options.method ?? 'post').toUpperCase(), `${url}${query}`);
        xhr.setRequestHeader('accept', 'application/json');
        xhr.setRequestHeader('x-csrf-token', token);
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable) options.onProgress?.(e.loaded / e.total);
        };
        xhr.onload = () => {
          const type = xhr.getResponseHeader('content-type') ?? '';
          const body: unknown =
            type.includes('json') && xhr.responseText ? JSON.parse(xhr.responseText) : null;
          if (xhr.status >= 200 && xhr.status < 300) resolve(body as Ok<P, M>);
          else reject(new ApiError(xhr.status, body as Problem | null));
        };
        xhr.onerror = () => reject(new ApiError(0, null));
        xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
        if (options.signal?.aborted) return reject(new DOMException('Upload cancelled', 'AbortError'));
        options.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
        xhr.send(options.form);
      }),
  );
}
