import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Where the messages people read are raised: every domain the web client and the API reach. The
 * federation's inbox, signatures and deliveries answer other servers (in English, as peers read them); of
 * the federation folder only the lookup a person makes is here.
 */
export const PERSON_FACING = [
  'server/auth',
  'server/core',
  'server/files',
  'server/groups',
  'server/notifications',
  'server/organizations',
  'server/people',
  'server/realtime',
  'server/settings',
  'server/threads',
  'server/web',
  'server/federation/lookup.service.ts',
  'server/federation/lookup.routes.ts',
];

/** Errors raised in those files that are not read by people, or whose text is not the project's. */
const NOT_MESSAGES = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'ConfigError',
  'TakenIdError',
  // An identity provider's discovery failing: the operator's log, and a value in the sign-in's own message.
  'IssuerUnavailableError',
]);

/** zod checks whose second argument may be the schema's own message. */
const ZOD_CHECKS = new Set(['regex', 'refine', 'min', 'max', 'length', 'startsWith', 'endsWith', 'includes']);

export interface Found {
  /** The English key (`No group {0}.`). */
  key: string;
  where: string;
}

export interface Scan {
  messages: Found[];
  /** Raised messages the scan cannot read as a key: a template literal without `msg`, a computed value. */
  unreadable: Found[];
}

function files(root: string, entry: string): string[] {
  const full = path.join(root, entry);
  if (statSync(full).isFile()) return [entry];
  return readdirSync(full).flatMap((name) => files(root, path.join(entry, name)));
}

/** The key of a `msg` template, a string literal, or null. */
function keyOf(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isParenthesizedExpression(node)) return keyOf(node.expression);
  if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'msg') {
    const t = node.template;
    if (ts.isNoSubstitutionTemplateLiteral(t)) return t.text;
    return t.head.text + t.templateSpans.map((span, i) => `{${i}}${span.literal.text}`).join('');
  }
  return null;
}

/**
 * Every message raised with `new SomethingError(...)` in the person-facing files, every field message in its
 * second argument, and every `msg` template anywhere in them. A message given by a name (`notFound`) is
 * found where that name is given its `msg`.
 */
export function scanMessages(root: string): Scan {
  const messages: Found[] = [];
  const unreadable: Found[] = [];
  for (const file of PERSON_FACING.flatMap((entry) => files(root, entry))) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const source = ts.createSourceFile(
      file,
      readFileSync(path.join(root, file), 'utf8'),
      ts.ScriptTarget.Latest,
      true,
    );
    const where = (node: ts.Node) =>
      `${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
    const take = (node: ts.Node): void => {
      // One message or another: both are messages.
      if (ts.isConditionalExpression(node)) return [node.whenTrue, node.whenFalse].forEach(take);
      const key = keyOf(node);
      if (key !== null) messages.push({ key, where: where(node) });
      // A name or a call is found where its message is made (a `msg`, or a raised error of its own).
      else if (ts.isTemplateExpression(node) || ts.isBinaryExpression(node))
        unreadable.push({ key: node.getText(source), where: where(node) });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'msg')
        take(node);
      // A sentence built in a template literal without `msg` (a message passed on by name or parameter).
      if (ts.isTemplateExpression(node) && !ts.isTaggedTemplateExpression(node.parent)) {
        const text = node.getText(source);
        if (/^`[A-Z]/.test(text) && /[.!?]`$/.test(text)) unreadable.push({ key: text, where: where(node) });
      }
      // A schema's own message for a field: zod's `{ message }`, or the text given to a check
      // (`.regex(re, 'expected …')`, `.min(1, 'must not be empty')`, `.refine(fn, '…')`).
      if (
        ts.isPropertyAssignment(node) &&
        node.name.getText(source) === 'message' &&
        ts.isObjectLiteralExpression(node.parent) &&
        ts.isCallExpression(node.parent.parent)
      )
        take(node.initializer);
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        ZOD_CHECKS.has(node.expression.name.text)
      )
        for (const arg of node.arguments.slice(1)) if (ts.isStringLiteral(arg)) take(arg);
      const raised =
        (ts.isNewExpression(node) &&
          ts.isIdentifier(node.expression) &&
          node.expression.text.endsWith('Error') &&
          !NOT_MESSAGES.has(node.expression.text)) ||
        // An error class giving its own message to its parent.
        (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword);
      if (raised) {
        const [detail, fields] = node.arguments ?? [];
        if (detail && !ts.isTaggedTemplateExpression(detail)) take(detail);
        if (fields && ts.isArrayLiteralExpression(fields))
          for (const field of fields.elements)
            if (ts.isObjectLiteralExpression(field))
              for (const p of field.properties)
                if (ts.isPropertyAssignment(p) && p.name.getText(source) === 'message') take(p.initializer);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { messages, unreadable };
}
