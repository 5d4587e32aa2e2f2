import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { projectRoot } from './core/paths.js';
import { FEDERATION_DOMAIN } from './federation/federation.policy.js';

/** The kinds of value the environment variables take (config.schema.ts), each parsed and checked. */

export const booleanFromString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const port = z.coerce
  .number({ message: 'expected a port number' })
  .int('expected a whole number')
  .min(0, 'expected a port between 0 and 65535')
  .max(65535, 'expected a port between 0 and 65535');

export const byteSize = z
  .string()
  .regex(/^\d+(b|kb|mb)$/i, 'expected a size such as 100kb or 1mb')
  .transform((v) => v.toLowerCase());

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
/** A storage size in bytes: 0, 500kb, 100mb, 1gb, 2tb (binary units). */
export const storageSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i, 'expected a size such as 0, 100mb or 1gb')
  .transform((v) => {
    const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v)!;
    return Math.floor(Number(amount) * UNITS[(unit || 'b').toLowerCase()]!);
  });

/** A comma-separated list, each item trimmed (and lower-cased unless `keepCase`), empty items dropped. */
const commaList = <T extends z.ZodType<unknown, string>>(item: T, keepCase = false) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((t) => (keepCase ? t.trim() : t.trim().toLowerCase()))
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** A comma-separated list of media types (`image/png`) or families (`image/*`). */
export const mediaTypes = commaList(
  z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/, 'expected media types such as image/png or image/*'),
);

/** What file-type names executables; refused unless the node lists them in FILE_ALLOWED_TYPES. */
export const DEFAULT_DENIED_TYPES = [
  'application/x-msdownload',
  'application/x-dosexec',
  'application/vnd.microsoft.portable-executable',
  'application/x-msi',
  'application/x-elf',
  'application/x-executable',
  'application/x-sharedlib',
  'application/x-mach-binary',
  'application/x-apple-diskimage',
  'application/java-archive',
].join(',');

export const absoluteOrRelativePath = z
  .string()
  .min(1, 'expected a path')
  .transform((p) => path.resolve(projectRoot, p));

export const mongoUri = z
  .string()
  .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'expected a mongodb:// or mongodb+srv:// connection string');

export const httpUrl = z
  .url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' })
  .transform((u) => u.replace(/\/+$/, ''));

/** Trust-proxy: false, true, a hop count, or a comma-separated list of addresses/subnets (Express syntax). */
export const trustProxy = z
  .string()
  .min(1)
  .transform((v): boolean | number | string => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    if (/^\d+$/.test(v)) return Number(v);
    return v;
  });

export const issuerSchema = z.object({
  /** Short id used in URLs (/auth/login/<id>). */
  id: z.string().regex(/^[a-z0-9-]{1,32}$/, 'id: expected 1-32 lower-case letters, digits or -'),
  /** Label on the sign-in page, in English and French. */
  name: z.object({ en: z.string().min(1).max(100), fr: z.string().min(1).max(100) }),
  issuer: z.url({ protocol: /^https?$/, message: 'issuer: expected an http(s) URL' }),
  clientId: z.string().min(1, 'clientId: required'),
  clientSecret: z.string().min(1, 'clientSecret: required'),
  scope: z.string().default('openid profile email'),
});
export type IssuerConfig = z.infer<typeof issuerSchema>;

export const jsonArray = <T extends z.ZodType>(item: T, what: string) =>
  z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a JSON array of ${what}` });
        return z.NEVER;
      }
    })
    .pipe(z.array(item, { message: `expected a JSON array of ${what}` }));

/** Comma-separated domain names (lower-cased); a leading `*.` covers every subdomain. */
export const domainList = commaList(
  z.string().regex(FEDERATION_DOMAIN, 'expected domain names such as dept.gc.ca or *.gc.ca'),
);

/** Comma-separated address ranges (10.0.0.0/8, ::1/128). */
export const cidrList = commaList(
  z.string().refine((c) => {
    try {
      ipaddr.parseCIDR(c);
      return true;
    } catch {
      return false;
    }
  }, 'expected address ranges such as 10.0.0.0/8 or 127.0.0.1/32'),
  true,
);

/** `issuer|sub` pairs, comma separated: who is an instance administrator. */
export const adminIdentities = commaList(
  z
    .string()
    .regex(/^https?:\/\/[^|\s]+\|[^|\s]+$/, 'expected comma-separated issuer|sub pairs')
    .transform((pair) => {
      const [issuer, sub] = pair.split('|') as [string, string];
      return { issuer, sub };
    }),
  true,
);
