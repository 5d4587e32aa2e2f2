import { generateKeyPairSync, sign } from 'node:crypto';
import {
  digestOf,
  parseSignature,
  signRequest,
  signingString,
  verifyRequest,
} from '../../server/federation/http-signature.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const now = new Date('2026-11-25T12:00:00Z');
const body = Buffer.from(JSON.stringify({ type: 'Create', actor: 'https://remote.example/users/ana' }));
const options = { maxSkewMs: 60 * 60 * 1000, now, body };

function signed(overrides: { body?: Buffer; date?: Date } = {}) {
  const headers = signRequest(
    {
      method: 'POST',
      url: 'https://ensemble.example/inbox',
      headers: { 'content-type': 'application/activity+json' },
      body,
    },
    { keyId: 'https://remote.example/users/ana#main-key', privateKeyPem: privatePem },
    overrides.date ?? now,
  );
  return { method: 'POST', path: '/inbox', headers };
}

describe('HTTP signatures', () => {
  it('verifies what it signs, rsa-sha256 as Mastodon sends it', () => {
    const req = signed();
    expect(() => verifyRequest(req, parseSignature(req.headers.signature), publicPem, options)).not.toThrow();
  });

  it('accepts hs2019 with an RSA key (GoToSocial and others send it)', () => {
    const req = signed();
    const names = ['(request-target)', 'host', 'date', 'digest'];
    const sig = sign('sha256', Buffer.from(signingString(req, names)), privatePem).toString('base64');
    req.headers.signature = `keyId="k",algorithm="hs2019",headers="${names.join(' ')}",signature="${sig}"`;
    expect(() => verifyRequest(req, parseSignature(req.headers.signature), publicPem, options)).not.toThrow();
  });

  it.each([
    [
      'a body that does not match its Digest',
      () => ({ ...signed(), body: Buffer.from('{"type":"Delete"}') }),
      'Digest',
    ],
    ['another key', () => ({ ...signed(), key: other }), 'does not verify'],
    ['a Date two hours old', () => signed({ date: new Date(now.getTime() - 2 * 3600_000) }), 'window'],
    ['a tampered path', () => ({ ...signed(), path: '/users/admin/inbox' }), 'does not verify'],
    [
      'no digest in the signed headers',
      () => {
        const req = signed();
        req.headers.signature = req.headers.signature!.replace(' digest"', '"');
        return req;
      },
      'does not cover digest',
    ],
    [
      'an unsupported algorithm',
      () => {
        const req = signed();
        req.headers.signature = req.headers.signature!.replace('rsa-sha256', 'hmac-sha256');
        return req;
      },
      'not accepted',
    ],
  ])('refuses %s', (_name, make, message) => {
    const req = make() as ReturnType<typeof signed> & { body?: Buffer; key?: string };
    expect(() =>
      verifyRequest(req, parseSignature(req.headers.signature), req.key ?? publicPem, {
        ...options,
        body: req.body ?? body,
      }),
    ).toThrow(message);
  });

  it('computes the SHA-256 Digest as peers expect', () => {
    expect(digestOf('')).toBe('SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });
});
