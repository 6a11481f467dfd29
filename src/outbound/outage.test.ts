import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FIRST_PAUSE_MS, LONGEST_PAUSE_MS, Outage } from './outage.js';

function setUp() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    }),
  );
  const clock = { now: 1_000_000 };
  return { lines, clock, outage: new Outage(log, () => clock.now) };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('a database outage, as the outbound worker sees it', () => {
  it('pauses 0.5 s after the first failure, twice as long after each next one, and never more than 30 s', () => {
    const { outage, clock } = setUp();
    const pauses: number[] = [];
    for (let failure = 0; failure < 9; failure++) {
      outage.failed(refused);
      pauses.push(outage.remainingMs());
      clock.now += outage.remainingMs();
    }
    expect(FIRST_PAUSE_MS).toBe(500);
    expect(LONGEST_PAUSE_MS).toBe(30_000);
    expect(pauses).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('leaves the database alone until the pause is over', () => {
    const { outage, clock } = setUp();
    expect(outage.pausing()).toBe(false);
    outage.failed(refused);
    expect(outage.pausing()).toBe(true);
    clock.now += 499;
    expect(outage.pausing()).toBe(true);
    clock.now += 1;
    expect(outage.pausing()).toBe(false);
  });

  it('warns once when an outage starts and says once when it ends, however many tries it took', () => {
    const { outage, clock, lines } = setUp();
    for (let failure = 0; failure < 20; failure++) {
      outage.failed(refused);
      clock.now += outage.remainingMs();
    }
    expect(outage.succeeded()).toBe(true);
    expect(outage.succeeded()).toBe(false);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, 'the database cannot be used; the outbound worker pauses and tries again'],
      [30, 'the database answers again; the outbound worker resumes'],
    ]);
  });

  it('starts again from the shortest pause after the database came back', () => {
    const { outage, clock, lines } = setUp();
    for (let failure = 0; failure < 5; failure++) outage.failed(refused);
    outage.succeeded();
    expect(outage.pausing()).toBe(false);
    clock.now += 10;
    outage.failed(refused);
    expect(outage.remainingMs()).toBe(500);
    expect(lines.filter((line) => line.level === 40)).toHaveLength(2);
  });
});
