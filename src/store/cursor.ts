import { MailtrailError } from '../core/errors.js';

/** A keyset cursor: the sort value and id of the last row of a page, opaque to clients. */
export interface Cursor {
  at: number;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { at: value[0] as number, id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new MailtrailError('MT_ERR_INVALID_CURSOR', 'the cursor is not one this API returned');
}

/** A page from `limit + 1` rows in keyset order: the extra row only tells that there is a next page. */
export function keysetPage<R extends { id: string }, T>(rows: R[], limit: number, sortValue: (row: R) => number, convert: (row: R) => T): { data: T[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { data: page.map(convert), next: rows.length > limit && last ? encodeCursor({ at: sortValue(last), id: last.id }) : null };
}
