import { describe, expect, it } from 'vitest';
import { splitJsonArray } from './json-array.js';

describe('splitJsonArray', () => {
  it('returns each element exactly as written', () => {
    const text = '[{"a":"x,]}\\"y"},\r\n{ "b" : [1, 2, {"c": "}"}] }\r\n, 3 ,"s"]\r\n';
    expect(splitJsonArray(text)).toEqual(['{"a":"x,]}\\"y"}', '{ "b" : [1, 2, {"c": "}"}] }', '3', '"s"']);
    expect(splitJsonArray(text).map((element) => JSON.parse(element))).toEqual(JSON.parse(text));
  });

  it('returns nothing for an empty array', () => {
    expect(splitJsonArray(' [ ] ')).toEqual([]);
  });
});
