/**
 * A minimal browser for HTTP-level flows: keeps cookies per origin, follows redirects by hand (so each
 * hop is visible), and reads forms. Used to walk the real OIDC code flow between a real node and a real
 * identity provider.
 */
export interface Hop {
  url: string;
  status: number;
}

export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();
  readonly hops: Hop[] = [];

  cookies(origin: string): Map<string, string> {
    let jar = this.jar.get(origin);
    if (!jar) this.jar.set(origin, (jar = new Map()));
    return jar;
  }

  private store(url: string, res: Response): void {
    const jar = this.cookies(new URL(url).origin);
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        return (
          (k?.toLowerCase() === 'max-age' && Number(v) <= 0) ||
          (k?.toLowerCase() === 'expires' && Date.parse(v ?? '') < Date.now())
        );
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const jar = this.cookies(new URL(url).origin);
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res);
    this.hops.push({ url, status: res.status });
    return res;
  }

  /** Request, then follow redirects (GET) until a non-redirect answer. */
  async navigate(url: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
    let res = await this.request(url, init);
    let current = url;
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      const location = res.headers.get('location');
      if (!location) break;
      await res.arrayBuffer();
      current = new URL(location, current).toString();
      res = await this.request(current);
    }
    return { res, url: current };
  }
}

/** Walk the sign-in: node → provider → pick the demo person → provider → node callback → node. */
export async function signIn(browser: Browser, nodeUrl: string, issuerId: string, account: string) {
  const { res, url } = await browser.navigate(`${nodeUrl}/auth/login/${issuerId}`);
  const html = await res.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no sign-in form at ${url} (HTTP ${res.status}): ${html.slice(0, 300)}`);
  return browser.navigate(new URL(action.replace(/&amp;/g, '&'), url).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ account }).toString(),
  });
}

/** JSON API calls as the signed-in browser, with the CSRF token state-changing requests need. */
export class ApiClient {
  private csrf: string | undefined;
  constructor(
    readonly browser: Browser,
    readonly nodeUrl: string,
  ) {}

  async token(): Promise<string> {
    const res = await this.browser.request(`${this.nodeUrl}/api/v1/auth/csrf`);
    this.csrf = ((await res.json()) as { token: string }).token;
    return this.csrf;
  }

  async call(method: string, path: string, body?: unknown, options: { csrf?: boolean } = {}) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET' && options.csrf !== false)
      headers['x-csrf-token'] = this.csrf ?? (await this.token());
    let payload: RequestInit['body'];
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await this.browser.request(`${this.nodeUrl}/api/v1${path}`, {
      method,
      headers,
      body: payload,
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      type,
      headers: res.headers,
      body: (type.includes('json') && text ? JSON.parse(text) : text) as any, // eslint-disable-line @typescript-eslint/no-explicit-any
    };
  }
}
