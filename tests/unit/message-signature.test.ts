import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { pemSigner } from '../../server/federation/http-signature.js';
import {
  acceptSignature,
  checkMessageSignature,
  parseMessageSignature,
  planFromAcceptSignature,
  signatureBase,
  signMessage,
  verifyMessageSignature,
  verifyMessageSignatureBytes,
} from '../../server/federation/message-signature.js';
import { multikeyToPem, pemToMultikey } from '../../server/federation/multikey.js';

/** RFC 9421 Appendix B.1.2 (test-key-rsa-pss) and B.1.4 (test-key-ed25519). */
const RSA_PSS_PUBLIC = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----`;
const ED25519_PUBLIC = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`;
const ED25519_PRIVATE = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`;

/** The test request of RFC 9421 Appendix B.2. */
const vectorRequest = (signatureInput: string, signature: string) => ({
  method: 'POST',
  url: 'https://example.com/foo?param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest':
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
    'signature-input': signatureInput,
    signature,
  },
});
const VECTOR_BODY = Buffer.from('{"hello": "world"}');
const VECTOR_NOW = new Date(1618884473 * 1000);

const VECTORS = {
  'B.2.1 minimal (rsa-pss-sha512)': [
    RSA_PSS_PUBLIC,
    'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
    'sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:',
  ],
  'B.2.2 selective components (rsa-pss-sha512)': [
    RSA_PSS_PUBLIC,
    'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    'sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:',
  ],
  'B.2.3 full coverage (rsa-pss-sha512)': [
    RSA_PSS_PUBLIC,
    'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    'sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:',
  ],
  'B.2.6 ed25519': [
    ED25519_PUBLIC,
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:',
  ],
} as const;

describe('RFC 9421 HTTP Message Signatures', () => {
  describe('the test vectors of RFC 9421 Appendix B', () => {
    it.each(Object.entries(VECTORS))('%s verifies', (_name, [key, input, signature]) => {
      const req = vectorRequest(input, signature);
      expect(() => verifyMessageSignatureBytes(req, parseMessageSignature(req.headers), key)).not.toThrow();
    });

    it('builds B.2.6’s signature base byte for byte, and signing it gives the RFC’s signature', () => {
      const [, input, signature] = VECTORS['B.2.6 ed25519'];
      const req = vectorRequest(input, signature);
      const base = signatureBase(req, parseMessageSignature(req.headers).input);
      expect(base).toBe(
        [
          '"date": Tue, 20 Apr 2021 02:07:55 GMT',
          '"@method": POST',
          '"@path": /foo',
          '"@authority": example.com',
          '"content-type": application/json',
          '"content-length": 18',
          '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
        ].join('\n'),
      );
      const mine = sign(null, Buffer.from(base), createPrivateKey(ED25519_PRIVATE)).toString('base64');
      expect(signature).toBe(`sig-b26=:${mine}:`);
    });

    it('B.2.3 passes the node’s own requirements too (method, target, digest of the body, window)', () => {
      const [key, input, signature] = VECTORS['B.2.3 full coverage (rsa-pss-sha512)'];
      const req = vectorRequest(input, signature);
      const options = { maxSkewMs: 3600_000, now: VECTOR_NOW, body: VECTOR_BODY };
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), key, options),
      ).not.toThrow();
      // The same request a day later, or with another body, is refused.
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), key, {
          ...options,
          now: new Date(VECTOR_NOW.getTime() + 86_400_000),
        }),
      ).toThrow(/window/);
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), key, {
          ...options,
          body: Buffer.from('{"hello": "mars"}'),
        }),
      ).toThrow(/Content-Digest/);
    });

    it('a changed covered value no longer verifies (the path, the key)', () => {
      const [key, input, signature] = VECTORS['B.2.6 ed25519'];
      const req = { ...vectorRequest(input, signature), url: 'https://example.com/bar?param=Value&Pet=dog' };
      expect(() => verifyMessageSignatureBytes(req, parseMessageSignature(req.headers), key)).toThrow(
        /does not verify/,
      );
      const vector = vectorRequest(input, signature);
      expect(() =>
        verifyMessageSignatureBytes(vector, parseMessageSignature(vector.headers), RSA_PSS_PUBLIC),
      ).toThrow(/does not fit|does not verify/);
    });
  });

  describe('what the node signs, and what it requires', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const signer = pemSigner('https://ensemble.example/ap/a/u.ana#main-key', privateKey);
    const body = JSON.stringify({ type: 'Create' });
    const now = new Date('2026-11-25T12:00:00Z');
    const options = { maxSkewMs: 3600_000, now, body: Buffer.from(body) };
    const post = (plan?: Parameters<typeof signMessage>[2]) =>
      signMessage(
        {
          method: 'POST',
          url: 'https://remote.example/inbox',
          headers: { accept: 'application/activity+json' },
          body,
        },
        signer,
        plan,
        now,
      );
    const request = (headers: Record<string, string>) => ({
      method: 'POST',
      url: 'https://remote.example/inbox',
      headers,
    });

    it('signs as Mastodon does (@method, @target-uri, content-digest; created, keyid, alg) and verifies it', async () => {
      const headers = await post();
      expect(headers['signature-input']).toBe(
        `sig1=("@method" "@target-uri" "content-digest");created=${now.getTime() / 1000};keyid="${signer.keyId}";alg="rsa-v1_5-sha256"`,
      );
      expect(headers['content-digest']).toMatch(/^sha-256=:[A-Za-z0-9+/]+=*:$/);
      const req = request(headers);
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), publicPem, options),
      ).not.toThrow();
    });

    it.each([
      ['no content-digest on a POST', ['@method', '@target-uri'], /content-digest/],
      ['no @method', ['@target-uri', 'content-digest'], /@method/],
      ['no target', ['@method', 'content-digest'], /@target-uri/],
      ['@authority without @path', ['@method', '@authority', 'content-digest'], /@target-uri/],
    ])('refuses a signature with %s', async (_name, components, message) => {
      const headers = await post({ label: 'sig1', components: components.map((c) => [c, new Map()]) });
      const req = request(headers);
      expect(() => checkMessageSignature(req, parseMessageSignature(req.headers), options)).toThrow(message);
    });

    it('accepts @authority with @path instead of @target-uri', async () => {
      const components = ['@method', '@authority', '@path', 'content-digest'];
      const headers = await post({ label: 'sig1', components: components.map((c) => [c, new Map()]) });
      const req = request(headers);
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), publicPem, options),
      ).not.toThrow();
    });

    it('refuses an expired signature, one from the future, an algorithm it does not take, malformed headers', async () => {
      const headers = await post();
      const req = request(headers);
      const parsed = parseMessageSignature(req.headers);
      expect(() =>
        checkMessageSignature(
          req,
          { ...parsed, expires: parsed.created + 60 },
          {
            ...options,
            now: new Date(now.getTime() + 10 * 60_000),
          },
        ),
      ).toThrow(/expired/);
      expect(() =>
        checkMessageSignature(req, parsed, { ...options, now: new Date(now.getTime() - 2 * 3600_000) }),
      ).toThrow(/window/);
      expect(() =>
        verifyMessageSignature(req, { ...parsed, alg: 'hmac-sha256' }, publicPem, options),
      ).toThrow(/not accepted/);
      expect(() => verifyMessageSignature(req, { ...parsed, alg: 'ed25519' }, publicPem, options)).toThrow(
        /does not fit/,
      );
      expect(() => parseMessageSignature({ ...headers, 'signature-input': 'sig1=(' })).toThrow(/dictionary/);
      expect(() => parseMessageSignature({ ...headers, signature: undefined })).toThrow(/both/);
      expect(() =>
        parseMessageSignature({ ...headers, 'signature-input': 'sig1=("@method");created=1' }),
      ).toThrow(/keyid/);
    });

    it('follows an Accept-Signature challenge it can meet, and declines one it cannot', async () => {
      const plan = planFromAcceptSignature(
        'sig2=("@method" "@target-uri" "@authority" "date" "content-digest");created;keyid;tag="ap"',
        signer.keyId,
      );
      expect(plan).toMatchObject({ label: 'sig2' });
      const headers = await post(plan!);
      expect(headers['signature-input']).toMatch(
        /^sig2=\("@method" "@target-uri" "@authority" "date" "content-digest"\);.*tag="ap"$/,
      );
      const req = request(headers);
      expect(() =>
        verifyMessageSignature(req, parseMessageSignature(req.headers), publicPem, options),
      ).not.toThrow();
      expect(planFromAcceptSignature('sig1=("@method" "x-secret");created', signer.keyId)).toBeNull();
      expect(planFromAcceptSignature('sig1=("@method");alg="ed25519"', signer.keyId)).toBeNull();
      expect(
        planFromAcceptSignature('sig1=("@method");keyid="https://elsewhere/k"', signer.keyId),
      ).toBeNull();
      expect(
        planFromAcceptSignature(acceptSignature(true), signer.keyId)?.components.map(([c]) => c),
      ).toEqual(['@method', '@target-uri', 'content-digest']);
    });
  });

  it('reads Ed25519 Multikeys (FEP-521a) as PEM keys', () => {
    expect(pemToMultikey(ED25519_PUBLIC)).toMatch(/^z6Mk/);
    expect(multikeyToPem(pemToMultikey(ED25519_PUBLIC))).toBe(`${ED25519_PUBLIC}\n`);
    expect(multikeyToPem('zNotBase58!')).toBeNull();
    expect(multikeyToPem('uAAAA')).toBeNull();
  });
});
