#!/usr/bin/env -S node --single-threaded-gc
// Entry point of the `sluice` command. The TypeScript sources are compiled to dist/ by `npm ci`
// (the `prepare` script); this shim only loads the compiled CLI. The shebang's node flag is the
// one `sluice receive` is meant to run with (src/util/nodeFlags.ts); `node bin/sluice.js` runs
// without it (and says so in its log).
import { main } from '../dist/src/cli.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exit(1); },
);
