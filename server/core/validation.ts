import type { z } from 'zod';
import { frCA } from 'zod/v4/locales';
import { ValidationError, type FieldIssue } from './errors.js';
import { localized, type Message } from './messages.js';

export type InputPart = 'body' | 'query' | 'params' | 'payload';

/** zod's own messages in French (a schema's own messages are in messages.fr.ts, like every other). */
export const frenchIssues = frCA().localeError;

/**
 * Turn zod issues into field problems whose paths name where the value came from (`body.title`), each
 * message in English and French (`frenchIssues`: the same parse's issues with zod's French messages).
 */
export function fieldProblems(
  error: z.ZodError,
  where: InputPart,
  frenchIssues: readonly { message: string }[] = [],
): { field: string; message: Message }[] {
  return error.issues.map((issue, i) => {
    const fr = frenchIssues[i]?.message;
    return {
      field: [where, ...issue.path.map(String)].join('.'),
      // A schema's own message is the same in both parses: its French is found by its key.
      message: {
        key: issue.message,
        values: [],
        text: issue.message,
        ...(fr && fr !== issue.message ? { fr } : {}),
      },
    };
  });
}

/** Validate untrusted input against a schema; throws ValidationError naming every offending field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: InputPart): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // Refused: parsed once more for zod's French messages (only ever on this path).
  const again = schema.safeParse(input, { error: frenchIssues });
  const fields = fieldProblems(result.error, where, again.success ? [] : again.error.issues);
  const only = fields.length === 1 ? fields[0]! : null;
  const detail: Message = only
    ? {
        key: '{0}: {1}',
        values: [only.field, only.message.text],
        text: `${only.field}: ${only.message.text}`,
        fr: `${only.field} : ${localized(only.message, 'fr')}`,
      }
    : {
        key: '{0} fields are invalid',
        values: [fields.length],
        text: `${fields.length} fields are invalid`,
        fr: `${fields.length} champs ne sont pas valides`,
      };
  throw new ValidationError(detail, fields satisfies FieldIssue[]);
}
