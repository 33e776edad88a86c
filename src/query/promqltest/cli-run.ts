/**
 * cli-run runs promqltest scripts from the command line without the rest of Sluice:
 * `node <build>/src/query/promqltest/cli-run.js [--skipped] FILE…`.
 */
import { promqltestMain } from './run.js';

process.exitCode = await promqltestMain(process.argv.slice(2));
