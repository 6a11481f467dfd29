// Times in the public JSON are ISO 8601 strings in UTC; a missing time is `null`.

export function iso(time: number): string {
  return new Date(time).toISOString();
}

export function isoOrNull(time: number | null): string | null {
  return time === null ? null : iso(time);
}
