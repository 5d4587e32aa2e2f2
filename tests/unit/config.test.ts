import path from 'node:path';
import { ConfigError, loadConfig } from '../../server/config.js';
import { projectRoot } from '../../server/core/paths.js';

function problemsOf(env: Record<string, string>): ConfigError['problems'] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected loadConfig to fail');
}

describe('configuration', () => {
  it('boots on defaults in development with the embedded database', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.port).toBe(3000);
    expect(config.database.uri).toBeUndefined();
    expect(config.database.dataDir).toBe(path.join(projectRoot, 'data'));
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.log.pretty).toBe(true);
  });

  it('names the variable and what it expects when a value is invalid', () => {
    const problems = problemsOf({ PORT: 'abc' });
    expect(problems).toEqual([expect.objectContaining({ variable: 'PORT', received: 'abc' })]);
    expect(problems[0]!.message).toMatch(/port/i);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT: expected a port number \(got "abc"\)/);
  });

  it('reports every invalid variable at once', () => {
    const variables = problemsOf({ PORT: '70000', LOG_LEVEL: 'loud', NODE_ENV: 'staging' }).map(
      (p) => p.variable,
    );
    expect(variables.sort()).toEqual(['LOG_LEVEL', 'NODE_ENV', 'PORT']);
  });

  const issuers = JSON.stringify([
    {
      id: 'dept',
      name: { en: 'Department', fr: 'Ministère' },
      issuer: 'https://idp.dept.example',
      clientId: 'ensemble',
      clientSecret: 'client-secret-value',
    },
  ]);
  const production = {
    NODE_ENV: 'production',
    MONGODB_URI: 'mongodb://db.internal:27017/?replicaSet=rs0',
    PUBLIC_URL: 'https://ensemble.example.gc.ca/',
    SESSION_SECRET: 'x'.repeat(40),
    OIDC_ISSUERS: issuers,
  };

  it('requires a database, a public URL, a session secret and an identity provider in production', () => {
    const variables = problemsOf({ NODE_ENV: 'production' }).map((p) => p.variable);
    expect(variables.sort()).toEqual(['MONGODB_URI', 'OIDC_ISSUERS', 'PUBLIC_URL', 'SESSION_SECRET']);
    const config = loadConfig(production);
    expect(config.publicUrl).toBe('https://ensemble.example.gc.ca');
    expect(config.log.pretty).toBe(false);
    expect(config.auth.secureCookies).toBe(true);
    expect(config.auth.devIdp).toBe(false);
    expect(config.auth.issuers[0]).toMatchObject({ id: 'dept', scope: 'openid profile email' });
  });

  it('requires https for the public address in production, except a localhost trial', () => {
    expect(problemsOf({ ...production, PUBLIC_URL: 'http://ensemble.example.gc.ca' })).toEqual([
      expect.objectContaining({ variable: 'PUBLIC_URL', message: expect.stringContaining('https://') }),
    ]);
    expect(loadConfig({ ...production, PUBLIC_URL: 'http://localhost:3000' }).auth.secureCookies).toBe(false);
    // The docker-compose.yml trial: names under .localhost (RFC 6761), never a look-alike.
    expect(loadConfig({ ...production, PUBLIC_URL: 'http://dsa.ensemble.localhost:8080' }).publicUrl).toBe(
      'http://dsa.ensemble.localhost:8080',
    );
    for (const url of [
      'http://localhost.example.org',
      'http://evil-localhost:8080',
      'http://a.localhost.gc.ca',
    ])
      expect(problemsOf({ ...production, PUBLIC_URL: url }).map((p) => p.variable)).toEqual(['PUBLIC_URL']);
  });

  it('never allows the development identity provider or mail catcher in production', () => {
    expect(problemsOf({ ...production, DEV_IDP: 'true' }).map((p) => p.variable)).toEqual(['DEV_IDP']);
    expect(problemsOf({ ...production, DEV_MAIL_CATCHER: 'true' }).map((p) => p.variable)).toEqual([
      'DEV_MAIL_CATCHER',
    ]);
    expect(loadConfig(production).mail).toEqual({
      smtpUrl: undefined,
      from: 'Ensemble <no-reply@ensemble.example.gc.ca>',
      devCatcher: false,
    });
  });

  it('mounts the development identity provider only outside production without issuers', () => {
    expect(loadConfig({}).auth.devIdp).toBe(true);
    expect(loadConfig({ OIDC_ISSUERS: issuers }).auth.devIdp).toBe(false);
  });

  it('explains a malformed issuer list without echoing its secrets', () => {
    const bad = problemsOf({ OIDC_ISSUERS: '[{"id":"Dept!","clientSecret":"topsecret"}]' });
    expect(bad[0]!.variable).toBe('OIDC_ISSUERS');
    expect(JSON.stringify(bad)).not.toContain('topsecret');
    expect(problemsOf({ OIDC_ISSUERS: 'not json' })[0]!.message).toMatch(/JSON array of issuers/);
  });

  it('reads instance administrators as issuer|sub pairs and the admin claim as claim=value', () => {
    const config = loadConfig({
      INSTANCE_ADMINS: 'https://idp.a|123, https://idp.b|abc',
      OIDC_ADMIN_CLAIM: 'roles=ensemble-admin',
    });
    expect(config.auth.admins).toEqual([
      { issuer: 'https://idp.a', sub: '123' },
      { issuer: 'https://idp.b', sub: 'abc' },
    ]);
    expect(config.auth.adminClaim).toEqual({ name: 'roles', value: 'ensemble-admin' });
    expect(problemsOf({ INSTANCE_ADMINS: 'alice' })[0]!.variable).toBe('INSTANCE_ADMINS');
  });

  it('never echoes a database password back in the error', () => {
    const problems = problemsOf({ MONGODB_URI: 'postgres://user:s3cret@db/x' });
    expect(problems[0]!.variable).toBe('MONGODB_URI');
    expect(JSON.stringify(problems)).not.toContain('s3cret');
  });

  it('parses trust proxy settings in Express syntax', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', MONGODB_URI: '' }).port).toBe(3000);
  });
});
