import path from 'node:path';
import { z } from 'zod';
import { demoDepartmentSlugs } from './auth/demo.cast.js';
import { projectRoot } from './core/paths.js';
import {
  absoluteOrRelativePath,
  adminIdentities,
  booleanFromString,
  byteSize,
  cidrList,
  DEFAULT_DENIED_TYPES,
  domainList,
  httpUrl,
  issuerSchema,
  jsonArray,
  mediaTypes,
  mongoUri,
  port,
  storageSize,
  trustProxy,
} from './config.values.js';

/**
 * Every environment variable Ensemble reads, in one schema. Parsed once at boot by `loadConfig`;
 * nothing else in the server reads `process.env`. docs/configuration.md and .env.example list the
 * same variables (a test keeps the three in step).
 */
export const envObject = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], { message: 'expected development, production or test' })
    .default('development'),
  HOST: z.string().min(1, 'expected a host name or address').default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: httpUrl.optional(),
  TRUST_PROXY: trustProxy.default(false),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'expected one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  LOG_PRETTY: booleanFromString.optional(),
  JSON_BODY_LIMIT: byteSize.default('1mb'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int()
    .min(0)
    .max(600_000)
    .default(10_000),
  SHUTDOWN_DRAIN_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int()
    .min(0)
    .max(120_000)
    .optional(),
  MONGODB_URI: mongoUri.optional(),
  MONGODB_DB_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, 'expected 1-63 letters, digits, _ or -')
    .default('ensemble'),
  DATA_DIR: absoluteOrRelativePath.default(path.join(projectRoot, 'data')),
  TOOLS_DIR: absoluteOrRelativePath.default(path.join(projectRoot, '.tools')),
  FERRETDB_BIN: absoluteOrRelativePath.optional(),
  MONGOMS_SYSTEM_BINARY: absoluteOrRelativePath.optional(),
  EMBEDDED_DB_ALLOW_DOWNLOAD: booleanFromString.default(true),
  OIDC_ISSUERS: jsonArray(
    issuerSchema,
    'issuers ({id, name: {en, fr}, issuer, clientId, clientSecret})',
  ).optional(),
  OIDC_ORGANIZATION_CLAIM: z.string().min(1).max(100).default('organization'),
  OIDC_ADMIN_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+=[^=\s]+$/, 'expected claim=value, e.g. roles=ensemble-admin')
    .optional(),
  INSTANCE_ADMINS: adminIdentities.optional(),
  DEV_IDP: booleanFromString.optional(),
  DEMO_DEPARTMENT: z
    .enum(demoDepartmentSlugs, { message: `expected one of ${demoDepartmentSlugs.join(', ')}` })
    .optional(),
  SESSION_SECRET: z.string().min(32, 'expected at least 32 characters of random text').optional(),
  SESSION_MAX_AGE_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(12),
  AUTH_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(600),
  API_WRITE_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(120),
  GROUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  JOBS_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected redis://host:6379 or rediss://user:password@host:6380')
    .optional(),
  REALTIME_MAX_ROOMS: z.coerce.number().int().min(1).max(10_000).default(100),
  PAGE_CACHE: z.enum(['on', 'off']).default('on'),
  PAGE_CACHE_SIZE: storageSize.default(64 * 1024 ** 2),
  RECORD_CACHE: z.enum(['on', 'off']).default('on'),
  RECORD_CACHE_SIZE: storageSize.default(32 * 1024 ** 2),
  SESSION_CACHE: z.enum(['on', 'off']).default('on'),
  SESSION_CACHE_SIZE: storageSize.default(16 * 1024 ** 2),
  FILE_MAX_SIZE: storageSize.default(1024 ** 3),
  FILE_MAX_COUNT: z.coerce.number().int().min(1).max(100).default(20),
  FILE_MAX_FIELDS: z.coerce.number().int().min(1).max(100).default(10),
  FILE_MAX_FIELD_SIZE: storageSize.default(64 * 1024),
  FILE_ALLOWED_TYPES: mediaTypes.default([]),
  FILE_DENIED_TYPES: mediaTypes.default(DEFAULT_DENIED_TYPES.split(',')),
  GROUP_STORAGE_QUOTA: storageSize.default(10 * 1024 ** 3),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/\S+$/, 'expected smtp://user:pass@host:587 or smtps://user:pass@host:465')
    .optional(),
  MAIL_FROM: z.string().min(3).max(200).optional(),
  DEV_MAIL_CATCHER: booleanFromString.optional(),
  NODE_NAME: z.string().trim().min(1).max(100).optional(),
  NODE_DESCRIPTION: z.string().trim().max(1000).optional(),
  NODE_CONTACT_EMAIL: z.email({ message: 'expected an email address' }).max(200).optional(),
  NODE_DEFAULT_LANGUAGE: z.enum(['en', 'fr'], { message: 'expected en or fr' }).default('en'),
  METRICS_ENABLED: booleanFromString.default(true),
  METRICS_TOKEN: z
    .string()
    .min(32, 'expected at least 32 characters of random text')
    .regex(/^[\x21-\x7e]+$/, 'expected printable characters without spaces')
    .optional(),
  METRICS_ALLOWED_NETWORKS: cidrList.optional(),
  FEDERATION_ENABLED: booleanFromString.default(true),
  FEDERATION_MODE: z
    .enum(['open', 'blocklist', 'allowlist'], { message: 'expected open, blocklist or allowlist' })
    .default('open'),
  FEDERATION_DOMAINS: domainList.default([]),
  FEDERATION_ALLOWED_CIDRS: cidrList.default([]),
  FEDERATION_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  FEDERATION_FETCH_MAX_SIZE: storageSize.default(1024 ** 2),
  FEDERATION_INBOX_MAX_SIZE: storageSize.default(1024 ** 2),
  FEDERATION_INBOX_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(600),
  FEDERATION_UNSIGNED_INBOX: booleanFromString.default(false),
  FEDERATION_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  FEDERATION_DELIVERY_PER_HOST: z.coerce.number().int().min(1).max(100).default(4),
  FEDERATION_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  FEDERATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(14),
  FEDERATION_DELIVERY_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
});

export const configSchema = envObject.superRefine((cfg, ctx) => {
  if (cfg.NODE_ENV === 'production') {
    if (cfg.DEV_IDP) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_IDP'],
        message: 'cannot be enabled in production (it signs anyone in as a demo person)',
      });
    }
    if (cfg.FEDERATION_UNSIGNED_INBOX) {
      ctx.addIssue({
        code: 'custom',
        path: ['FEDERATION_UNSIGNED_INBOX'],
        message: 'cannot be enabled in production (it believes the actor named in an unsigned body)',
      });
    }
    if (cfg.DEV_MAIL_CATCHER) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_MAIL_CATCHER'],
        message: 'cannot be enabled in production',
      });
    }
    if (
      cfg.PUBLIC_URL?.startsWith('http://') &&
      // Names under .localhost are this machine's (RFC 6761): the two-department trial of docker-compose.yml.
      !/^http:\/\/(localhost|127\.0\.0\.1|([a-z0-9-]+\.)+localhost)(:\d+)?$/.test(cfg.PUBLIC_URL)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_URL'],
        message: 'must be https:// in production (plain http only for localhost and *.localhost trials)',
      });
    }
    if (!cfg.SESSION_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['SESSION_SECRET'], message: 'is required in production' });
    }
    if (!cfg.OIDC_ISSUERS?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_ISSUERS'],
        message: 'is required in production (at least one identity provider)',
      });
    }
    if (!cfg.MONGODB_URI) {
      ctx.addIssue({
        code: 'custom',
        path: ['MONGODB_URI'],
        message: 'is required in production (the embedded database is for development and tests only)',
      });
    }
    if (!cfg.PUBLIC_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_URL'],
        message: 'is required in production (the https:// address people and other nodes use)',
      });
    }
  }
});

export type ParsedEnv = z.infer<typeof configSchema>;
