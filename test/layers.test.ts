import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// DESIGN §2: data flows one way. The layers below the HTTP app never reach up into it, and core imports nothing.
const SRC = resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every relative import of every source file, as a path under src/ (`http/app.ts`). */
function imports(): { from: string; to: string }[] {
  return sourceFiles(SRC).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map((match) => ({
      from: relative(SRC, file),
      to: relative(SRC, resolve(dirname(file), match[1]!)).replace(/\.js$/, '.ts'),
    }));
  });
}

const layer = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path);
// The composition roots that build the app out of every layer.
const ROOTS = new Set(['mailtrail.ts', 'index.ts']);

describe('layers', () => {
  const all = imports();

  it('finds the imports it checks', () => {
    expect(all.filter((edge) => edge.from === 'outbound/payload.ts').map((edge) => edge.to)).toContain('views/message.ts');
  });

  it('nothing outside src/http imports from it, but the composition roots', () => {
    const upward = all.filter((edge) => layer(edge.to) === 'http' && layer(edge.from) !== 'http' && !ROOTS.has(layer(edge.from)));
    expect(upward).toEqual([]);
  });

  it('src/core imports nothing from the rest', () => {
    expect(all.filter((edge) => layer(edge.from) === 'core' && layer(edge.to) !== 'core')).toEqual([]);
  });

  it('the outbound worker does not depend on the HTTP layer or the CLI', () => {
    expect(all.filter((edge) => layer(edge.from) === 'outbound' && ['http', 'cli'].includes(layer(edge.to)))).toEqual([]);
  });
});
