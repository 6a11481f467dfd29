import { describe, expect, it } from 'vitest';
import { storableText } from './text.js';

describe('storableText', () => {
  it('leaves ordinary text, including paired surrogates, as it is', () => {
    expect(storableText('ada@example.com 😀 é')).toBe('ada@example.com 😀 é');
  });
  it('replaces lone surrogates and drops NUL', () => {
    expect(storableText('a\ud800b\udc00c\u0000d')).toBe('a\ufffdb\ufffdcd');
    expect(Buffer.from(storableText('x\ud800'), 'utf8').toString('utf8')).toBe(storableText('x\ud800'));
  });
});
