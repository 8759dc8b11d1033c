#!/usr/bin/env node
import { main } from '../daemon/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Handles left open by a frontend must not keep a stopped daemon alive.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    process.stderr.write(`scardgated: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
