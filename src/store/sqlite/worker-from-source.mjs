// Starts the SQLite thread from the TypeScript sources (tests and benchmarks run without a build).
// The built package starts dist/store/sqlite/worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
