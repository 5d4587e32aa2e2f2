import { FR } from './messages.fr.js';

/** The languages a person reads the node in (docs/api/problems.md, "Language"). */
export type Language = 'en' | 'fr';

/**
 * What a person is told when a request is refused (a problem's `detail`, a field's message): written in
 * English where it is raised, shown in the reader's language. As gettext does, the English text is the key
 * of its translations (messages.fr.ts); values inside it are `{0}`, `{1}`... there. A message is a plain
 * string, or `msg` over a template literal when it carries values. `tests/unit/messages.test.ts` finds every
 * message raised by the person-facing domains and fails on one without its French text.
 */
export interface Message {
  /** The English template: `No group {0}.` */
  readonly key: string;
  readonly values: readonly unknown[];
  /** The English text, values in place. */
  readonly text: string;
  /** The French text, when it was made where the message was (zod's own messages). */
  readonly fr?: string;
}

/** A message with values: msg`No group ${handle}.` (key `No group {0}.`). */
export function msg(strings: TemplateStringsArray, ...values: unknown[]): Message {
  let key = strings[0]!;
  let text = strings[0]!;
  values.forEach((value, i) => {
    key += `{${i}}${strings[i + 1]!}`;
    text += `${String(value)}${strings[i + 1]!}`;
  });
  return { key, values, text };
}

export function asMessage(value: string | Message): Message {
  return typeof value === 'string' ? { key: value, values: [], text: value } : value;
}

/** The message in `language`; in English when it has no translation. */
export function localized(message: Message, language: Language): string {
  if (language === 'en') return message.text;
  if (message.fr !== undefined) return message.fr;
  const template = FR[message.key];
  if (template === undefined) return message.text;
  return template.replace(/\{(\d+)\}/g, (_, i: string) => String(message.values[Number(i)]));
}
