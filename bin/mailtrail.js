#!/usr/bin/env -S node --max-semi-space-size=32
import { main } from '../dist/cli/main.js';

main(process.argv).catch((error) => {
  process.stderr.write(`mailtrail: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
