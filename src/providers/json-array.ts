import { MailtrailError } from '../core/errors.js';
import { parseJson, record } from './fields.js';

/**
 * The exact text of each top-level element of a JSON array, for keeping a provider's event "exactly as
 * received" without re-serializing it. Call only on text that `JSON.parse` accepted as an array.
 */
export function splitJsonArray(text: string): string[] {
  const elements: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      // Most of a batch is string content: jump to the next quote, then count the backslashes before it.
      const quote = text.indexOf('"', i);
      if (quote === -1) break;
      let backslashes = 0;
      while (text.charCodeAt(quote - 1 - backslashes) === 0x5c /* \ */) backslashes++;
      i = quote;
      if (backslashes % 2 === 0) inString = false;
      continue;
    }
    switch (char) {
      case 0x22 /* " */:
        inString = true;
        break;
      case 0x5b /* [ */:
      case 0x7b /* { */:
        depth++;
        if (depth === 1 && char === 0x5b) start = i + 1;
        break;
      case 0x5d /* ] */:
      case 0x7d /* } */:
        if (depth === 1) pushElement(elements, text, start, i);
        depth--;
        break;
      case 0x2c /* , */:
        if (depth === 1) {
          pushElement(elements, text, start, i);
          start = i + 1;
        }
        break;
    }
  }
  return elements;
}

function pushElement(elements: string[], text: string, start: number, end: number): void {
  const element = text.slice(start, end).trim();
  if (element !== '') elements.push(element);
}

/**
 * A body that is one JSON object or an array of them (SendGrid, Mailjet, Brevo, generic events), each element
 * with its exact text. Fails with MT_ERR_INVALID_BODY, naming the element that is not an object.
 */
export function jsonObjects(bodyText: string): { value: Record<string, unknown>; raw: string }[] {
  const body = parseJson(bodyText);
  const items: unknown[] = Array.isArray(body) ? body : [body];
  const raws = Array.isArray(body) ? splitJsonArray(bodyText) : [bodyText.trim()];
  return items.map((item, index) => {
    const value = record(item);
    if (!value) throw new MailtrailError('MT_ERR_INVALID_BODY', Array.isArray(body) ? `event ${index} is not a JSON object` : 'the body must be a JSON object or an array of them');
    return { value, raw: raws[index] ?? JSON.stringify(item) };
  });
}
