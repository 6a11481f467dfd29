import fc from 'fast-check';
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

describe('splitJsonArray against JSON.parse', () => {
  it('splits arrays with escaped quotes and backslashes at string ends exactly like the parser reads them', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), fc.constantFrom('', ' ', '\r\n'), (values, space) => {
        const text = '[' + values.map((value) => JSON.stringify(value)).join(',' + space) + ']';
        expect(splitJsonArray(text).map((element) => JSON.parse(element))).toEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
    expect(splitJsonArray('["a\\\\", "b\\\\\\"c", {"d": "\\\\"}]')).toEqual(['"a\\\\"', '"b\\\\\\"c"', '{"d": "\\\\"}']);
  });
});
