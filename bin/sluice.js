#!/usr/bin/env node
// Entry point of the `sluice` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the `prepare` script); this shim only loads the compiled CLI.
import { main } from '../dist/src/cli.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exit(1); },
);
