import { close, fdatasync, open } from 'node:fs';

/**
 * Makes committed WAL frames durable off the event loop. With `synchronous=FULL`, SQLite fsyncs the WAL inside
 * COMMIT, and better-sqlite3 runs COMMIT on the main thread: every group commit stopped the whole server for the
 * length of a disk flush (bench/engagement: about 125 µs of each first-party hit, more than the hit's own SQL).
 * The ingest commits at `synchronous=NORMAL` instead (the frames reach the file, not the disk) and then asks this for
 * a flush of the WAL file on libuv's thread pool; a batch is acknowledged only once a flush that started after its
 * commit has finished, which is exactly the guarantee FULL gave. Commits that finish while a flush runs share the
 * next one, so there are never more than two flushes pending. SQLite keeps the WAL file (and so the descriptor's
 * inode) until its last connection closes; it is only reset in place after a checkpoint, and a checkpoint syncs the
 * WAL itself first.
 */
export class WalSync {
  private fd: number | null = null;
  private flushing = false;
  private waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closed = false;

  /** `flush` is fdatasync(2) on the thread pool; a test passes one that counts or delays it. */
  constructor(
    private readonly walPath: string,
    private readonly flush: (fd: number, done: (error: Error | null) => void) => void = fdatasync,
  ) {}

  /** Resolves once everything committed before this call is on disk; rejects when the flush failed. */
  durable(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.next();
    });
  }

  /** Waits for pending flushes, then lets the descriptor go. */
  async close(): Promise<void> {
    while (this.flushing || this.waiting.length > 0) await new Promise((resolve) => setImmediate(resolve));
    this.closed = true;
    if (this.fd !== null) await new Promise<void>((resolve) => close(this.fd!, () => resolve()));
    this.fd = null;
  }

  private next(): void {
    if (this.flushing || this.waiting.length === 0) return;
    this.flushing = true;
    const group = this.waiting;
    this.waiting = [];
    const settle = (error: unknown) => {
      this.flushing = false;
      for (const entry of group) {
        if (error) entry.reject(error);
        else entry.resolve();
      }
      this.next();
    };
    const flush = (fd: number) => this.flush(fd, (error) => settle(error));
    if (this.fd !== null) {
      flush(this.fd);
      return;
    }
    open(this.walPath, 'r', (error, fd) => {
      if (error) return settle(error);
      this.fd = fd;
      flush(fd);
    });
  }
}
