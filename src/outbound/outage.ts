import type { Logger } from '../log.js';

/** The first pause after a failed claim or record, doubled at each failure up to the longest. */
export const FIRST_PAUSE_MS = 500;
export const LONGEST_PAUSE_MS = 30_000;

/**
 * The worker's view of a database it cannot use (a restart, a failover): it pauses between tries, longer after each
 * failure, so a down database is not hammered four times a second by every worker; it says so once when the outage
 * starts and once when it ends, not at every try; and the first success ends the outage.
 */
export class Outage {
  private failures = 0;
  private since = 0;
  private resumeAt = 0;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** True while the worker should leave the database alone. */
  pausing(): boolean {
    return this.now() < this.resumeAt;
  }

  /** How long until the next try (0 when the database is not known to be down). */
  remainingMs(): number {
    return Math.max(0, this.resumeAt - this.now());
  }

  failed(error: unknown): void {
    const now = this.now();
    if (this.failures === 0) {
      this.since = now;
      this.log.warn({ err: error }, 'the database cannot be used; the outbound worker pauses and tries again');
    }
    this.failures++;
    this.resumeAt = now + Math.min(LONGEST_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.failures - 1));
  }

  /** Ends the outage, if there was one (true then). */
  succeeded(): boolean {
    if (this.failures === 0) return false;
    this.log.info({ failures: this.failures, outageMs: this.now() - this.since }, 'the database answers again; the outbound worker resumes');
    this.failures = 0;
    this.resumeAt = 0;
    return true;
  }
}
