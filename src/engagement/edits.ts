/**
 * One splice of an instrumented document: the characters `start`..`end` of the input (`original`) become
 * `replacement`. Offsets are string offsets (UTF-16 code units) of the input, not bytes; an insertion has
 * `start === end` and an empty `original`.
 */
export interface Edit {
  start: number;
  end: number;
  original: string;
  replacement: string;
}

/** The input with every edit applied. Edits must be sorted by `start` and must not overlap. */
export function applyEdits(input: string, edits: readonly Edit[]): string {
  // One join over the untouched stretches and the replacements: the cost stays linear in the input's size.
  const parts: string[] = [];
  let cursor = 0;
  for (const edit of edits) {
    parts.push(input.slice(cursor, edit.start), edit.replacement);
    cursor = edit.end;
  }
  parts.push(input.slice(cursor));
  return parts.join('');
}

/** The input again, from the output of {@link applyEdits} and the same edits. */
export function revertEdits(output: string, edits: readonly Edit[]): string {
  const parts: string[] = [];
  let cursor = 0;
  let shift = 0;
  for (const edit of edits) {
    const at = edit.start + shift;
    parts.push(output.slice(cursor, at), edit.original);
    cursor = at + edit.replacement.length;
    shift += edit.replacement.length - (edit.end - edit.start);
  }
  parts.push(output.slice(cursor));
  return parts.join('');
}
