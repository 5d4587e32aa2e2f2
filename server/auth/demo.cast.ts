/**
 * The demo departments and people of the development identity provider (DEV_IDP). Each node of a
 * multi-node demo can sign in one department's people (DEMO_DEPARTMENT, docs/configuration.md).
 */

export interface DemoPerson {
  sub: string;
  name: string;
  email: string;
  locale: 'en' | 'fr';
  organization: string;
  roles?: string[];
  /** Whether the provider vouches for the email address (true unless said otherwise). */
  emailVerified?: boolean;
}

export interface DemoDepartment {
  slug: string;
  name: { en: string; fr: string };
  acronym: { en: string; fr: string };
  emailDomains: string[];
}

/** The demo departments, by slug: the values DEMO_DEPARTMENT takes. */
export const demoDepartmentSlugs = ['digital-services', 'natural-resources', 'environment'] as const;

export const demoDepartments: DemoDepartment[] = [
  {
    slug: 'digital-services',
    name: { en: 'Digital Services Agency', fr: 'Agence des services numériques' },
    acronym: { en: 'DSA', fr: 'ASN' },
    emailDomains: ['dsa-asn.example'],
  },
  {
    slug: 'natural-resources',
    name: { en: 'Department of Natural Resources', fr: 'Ministère des Ressources naturelles' },
    acronym: { en: 'DNR', fr: 'MRN' },
    emailDomains: ['dnr-mrn.example'],
  },
  {
    slug: 'environment',
    name: { en: 'Environment and Climate Agency', fr: 'Agence de l’environnement et du climat' },
    acronym: { en: 'ECA', fr: 'AEC' },
    emailDomains: ['eca-aec.example'],
  },
];

export const demoPeople: DemoPerson[] = [
  {
    sub: 'alice',
    name: 'Alice Tremblay',
    email: 'alice.tremblay@dsa-asn.example',
    locale: 'en',
    organization: 'digital-services',
  },
  {
    sub: 'bruno',
    name: 'Bruno Côté',
    email: 'bruno.cote@dnr-mrn.example',
    locale: 'fr',
    organization: 'natural-resources',
  },
  {
    sub: 'chloe',
    name: 'Chloé Martin',
    email: 'chloe.martin@dsa-asn.example',
    locale: 'fr',
    organization: 'digital-services',
  },
  {
    sub: 'dev',
    name: 'Dev Patel',
    email: 'dev.patel@dnr-mrn.example',
    locale: 'en',
    organization: 'natural-resources',
  },
  {
    sub: 'emma',
    name: 'Emma Roy',
    email: 'emma.roy@eca-aec.example',
    locale: 'fr',
    organization: 'environment',
  },
  {
    sub: 'farid',
    name: 'Farid Haddad',
    email: 'farid.haddad@eca-aec.example',
    locale: 'en',
    organization: 'environment',
  },
];

/**
 * The demo cast of one department (DEMO_DEPARTMENT), or everyone when none is named: each node of a
 * multi-node demo signs in its own department's people. The first person is the node's administrator.
 */
export function demoCast(department: string | undefined): {
  people: DemoPerson[];
  departments: DemoDepartment[];
} {
  if (!department) return { people: demoPeople, departments: demoDepartments };
  return {
    people: demoPeople.filter((p) => p.organization === department),
    departments: demoDepartments.filter((d) => d.slug === department),
  };
}

/** The claims the development provider issues for a demo person. */
export function demoClaims(person: DemoPerson): Record<string, unknown> {
  return {
    sub: person.sub,
    name: person.name,
    preferred_username: person.sub,
    email: person.email,
    email_verified: person.emailVerified ?? true,
    locale: person.locale,
    organization: person.organization,
    ...(person.roles ? { roles: person.roles } : {}),
  };
}
