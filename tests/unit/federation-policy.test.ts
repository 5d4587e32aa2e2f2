import type { ConfigError } from '../../server/config.js';
import { loadConfig } from '../../server/config.js';
import { retryDelayMs } from '../../server/federation/delivery.worker.js';
import { FederationPolicy } from '../../server/federation/federation.policy.js';

describe('federation policy', () => {
  it('open mode federates with everyone', () => {
    expect(new FederationPolicy('open', ['spam.example']).allows('spam.example')).toBe(true);
  });

  it('blocklist mode refuses listed hosts, subdomains through *., and URLs on them', () => {
    const policy = new FederationPolicy('blocklist', ['spam.example', '*.bad.example', 'node.example:8443']);
    expect(policy.allows('spam.example')).toBe(false);
    expect(policy.allows('https://spam.example/users/x')).toBe(false);
    expect(policy.allows('a.bad.example')).toBe(false);
    expect(policy.allows('bad.example')).toBe(true);
    expect(policy.allows('node.example:8443')).toBe(false);
    expect(policy.allows('node.example')).toBe(true);
    expect(policy.allows('SPAM.EXAMPLE')).toBe(false);
    expect(policy.allows('notspam.example')).toBe(true);
  });

  it('allowlist mode federates only with listed hosts', () => {
    const policy = new FederationPolicy('allowlist', ['*.gc.ca', 'partner.example']);
    expect(policy.allows('https://dept.gc.ca/ap/a/u.alice')).toBe(true);
    expect(policy.allows('partner.example:443')).toBe(true);
    expect(policy.allows('gc.ca.evil.example')).toBe(false);
    expect(policy.allows('mastodon.social')).toBe(false);
    expect(policy.allows('not a url://')).toBe(false);
  });

  it('the configuration refuses the unsigned-inbox switch in production, and bad ranges or domains', () => {
    const production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://ensemble.example.gc.ca',
      SESSION_SECRET: 'x'.repeat(40),
      MONGODB_URI: 'mongodb://db:27017',
      OIDC_ISSUERS: JSON.stringify([
        {
          id: 'a',
          name: { en: 'A', fr: 'A' },
          issuer: 'https://idp.example',
          clientId: 'c',
          clientSecret: 's',
        },
      ]),
    };
    expect(() => loadConfig({ ...production, FEDERATION_UNSIGNED_INBOX: 'true' })).toThrow(
      /FEDERATION_UNSIGNED_INBOX/,
    );
    expect(loadConfig(production).federation.unsignedInbox).toBe(false);
    // Outside development the switch is off even when set.
    expect(loadConfig({ NODE_ENV: 'test', FEDERATION_UNSIGNED_INBOX: 'true' }).federation.unsignedInbox).toBe(
      false,
    );
    expect(
      loadConfig({ NODE_ENV: 'development', FEDERATION_UNSIGNED_INBOX: 'true' }).federation.unsignedInbox,
    ).toBe(true);
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.variable);
      }
      return [];
    };
    expect(bad({ FEDERATION_ALLOWED_CIDRS: '10.0.0.0/33' })).toEqual(['FEDERATION_ALLOWED_CIDRS']);
    expect(bad({ FEDERATION_DOMAINS: 'http://x.example' })).toEqual(['FEDERATION_DOMAINS']);
    expect(bad({ FEDERATION_MODE: 'closed' })).toEqual(['FEDERATION_MODE']);
  });
});

describe('delivery retry schedule', () => {
  it('doubles from the base, caps at 12 hours, and spans about two days with the defaults', () => {
    const { retryBaseMs, maxAttempts } = loadConfig({ NODE_ENV: 'test' }).federation.delivery;
    expect([1, 2, 3].map((n) => retryDelayMs(retryBaseMs, n))).toEqual([30_000, 60_000, 120_000]);
    expect(retryDelayMs(retryBaseMs, 30)).toBe(12 * 3600_000);
    let total = 0;
    for (let n = 1; n < maxAttempts; n++) total += retryDelayMs(retryBaseMs, n);
    // With ±25 % jitter around each wait, the last attempt comes on average this long after the first.
    expect(total / 86_400_000).toBeGreaterThan(1.5);
    expect(total / 86_400_000).toBeLessThan(2.5);
  });
});

describe('a policy changed at run time', () => {
  it('applies the new mode and list to the next check', () => {
    const policy = new FederationPolicy('open', []);
    expect(policy.allows('spam.example')).toBe(true);
    policy.update('blocklist', ['Spam.Example']);
    expect(policy.allows('spam.example')).toBe(false);
    policy.update('allowlist', ['*.gc.ca']);
    expect([policy.allows('dept.gc.ca'), policy.allows('spam.example')]).toEqual([true, false]);
    expect(policy.mode).toBe('allowlist');
    expect(policy.domains).toEqual(['*.gc.ca']);
  });
});
