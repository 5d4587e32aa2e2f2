import type { z } from 'zod';
import { ValidationError, type FieldProblem } from './errors.js';

export type InputPart = 'body' | 'query' | 'params' | 'payload';

/** Turn zod issues into field problems whose paths name where the value came from (`body.title`). */
export function fieldProblems(error: z.ZodError, where: InputPart): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

/** Validate untrusted input against a schema; throws ValidationError naming every offending field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: InputPart): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = fieldProblems(result.error, where);
  const detail =
    fields.length === 1
      ? `${fields[0]!.field}: ${fields[0]!.message}`
      : `${fields.length} fields are invalid`;
  throw new ValidationError(detail, fields);
}
