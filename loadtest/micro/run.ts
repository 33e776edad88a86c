/**
 * Runs every micro benchmark in one process, one after the other (`npm run bench:micro`).
 * Each prints its own side-by-side table; compare ratios, not absolute times, on shared machines.
 */
import { main as decode } from './decode.bench.js';
import { main as hash } from './hash.bench.js';
import { main as xor } from './xor.bench.js';
import { main as wal } from './wal.bench.js';
import { main as block } from './block.bench.js';
import { main as forward } from './forward.bench.js';
import { main as points } from './points.bench.js';
import { main as writeback } from './writeback.bench.js';

console.log(`micro benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
await decode();
console.log();
await hash();
console.log();
await xor();
console.log();
await wal();
console.log();
await block();
console.log();
forward();
console.log();
points();
console.log();
await writeback();
