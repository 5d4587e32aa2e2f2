import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

const alice: DemoPerson = {
  sub: 'alice',
  name: 'Alice',
  email: 'alice@x.example',
  locale: 'en',
  organization: '',
};

/** Run the code flow for another application registered at the same provider; return its ID token. */
async function idTokenForOtherApp(idp: TestIdp): Promise<string> {
  const browser = new Browser();
  const redirect = 'http://127.0.0.1:9/other-app/callback';
  const auth = new URL(`${idp.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'other-app',
    response_type: 'code',
    redirect_uri: redirect,
    scope: 'openid',
    state: 'state-12345678',
    nonce: 'nonce-12345678',
  }).toString();
  const { res, url } = await browser.navigate(auth.toString());
  const action = /action="([^"]+)"/.exec(await res.text())![1]!;
  let next = await browser.request(new URL(action, url).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'account=alice',
  });
  let location = next.headers.get('location')!;
  while (!location.startsWith(redirect)) {
    next = await browser.request(new URL(location, idp.url).toString());
    location = next.headers.get('location')!;
  }
  const code = new URL(location).searchParams.get('code')!;
  const token = await fetch(`${idp.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('other-app:other-secret').toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect }).toString(),
  });
  return ((await token.json()) as { id_token: string }).id_token;
}

describe('ID token verification', () => {
  let idp: TestIdp;
  let node: RunningNode;
  const signingKey = {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  };
  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({
      id: 'dept',
      nodeUrl: `http://127.0.0.1:${port}`,
      people: [alice],
      signingKey,
      extraClients: [
        {
          clientId: 'other-app',
          clientSecret: 'other-secret',
          redirectUris: ['http://127.0.0.1:9/other-app/callback'],
        },
      ],
    });
    node = await startTestNode({ port, issuers: [idp.issuer] });
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  it('refuses a genuine ID token that was issued to another application (audience)', async () => {
    const token = await idTokenForOtherApp(idp);
    const [, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString()).aud).toBe('other-app');
    await expect(node.node.oidc.verifyIdToken('dept', token)).rejects.toMatchObject({ claim: 'aud' });
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await idTokenForOtherApp(idp);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), aud: 'ensemble-test' };
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await expect(node.node.oidc.verifyIdToken('dept', forged)).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  /** A token signed with the provider's own key (as its JWKS publishes it), with the given claims. */
  async function mint(claims: Record<string, unknown>, expiresAt: number): Promise<string> {
    const jwks = (await (await fetch(`${idp.url}/jwks`)).json()) as { keys: { kid: string }[] };
    const kid = jwks.keys[0]!.kid;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(idp.url)
      .setAudience('ensemble-test')
      .setSubject('alice')
      .setIssuedAt(expiresAt - 3600)
      .setExpirationTime(expiresAt)
      .sign(await importJWK({ ...signingKey, alg: 'RS256' } as never, 'RS256'));
  }

  it('accepts a valid token signed by the provider, within the clock-skew allowance', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(node.node.oidc.verifyIdToken('dept', await mint({}, now + 600))).resolves.toMatchObject({
      payload: { sub: 'alice' },
    });
    // Expired 30 s ago: within the 60 s allowance for clock skew between servers.
    await expect(node.node.oidc.verifyIdToken('dept', await mint({}, now - 30))).resolves.toBeDefined();
  });

  it('refuses an expired token from the provider', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(node.node.oidc.verifyIdToken('dept', await mint({}, now - 300))).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
  });
});
