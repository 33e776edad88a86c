/** The promqltest runner's public surface. */
export { runPromqlTest, promqltestMain, runScript, checkEval, floatEqual } from './run.js';
export type { EvalResult, RunSummary, RunOptions } from './run.js';
export { parseScript } from './script.js';
export { MemoryStorage } from './memory.js';
