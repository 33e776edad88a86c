/**
 * Reads a Sluice child's log (started with `--log.format=json`) as it grows, and turns the events
 * the cut benchmark needs into records: `head cut into blocks` (each cut's end, length and
 * samples), `WAL checkpoint` and `uploaded block`. Reads the one log file it is given; writes
 * nothing.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** LogEvent is one JSON log line: its time (ms since the epoch), message and other fields. */
export interface LogEvent { t: number; msg: string; fields: Record<string, unknown> }

/** CutEvent is one `head cut into blocks` line: the window [start, end] (wall-clock ms) and what it wrote. */
export interface CutEvent {
  start: number;
  end: number;
  ms: number;
  upTo: number;
  blocks: number;
  ulids: string[];
  samples: number;
  chunksDropped: number;
  bytesFreed: number;
}

/** LogTail reads the lines appended to a log file since the last poll. */
export class LogTail {
  private readonly file: string;
  private offset = 0;
  private partial = '';
  /** events holds every JSON line read so far, in order. */
  readonly events: LogEvent[] = [];

  constructor(file: string) { this.file = file; }

  /** poll reads what was appended since the last call and returns its events. */
  poll(): LogEvent[] {
    let fd: number;
    try { fd = openSync(this.file, 'r'); } catch { return []; }
    const chunks: Buffer[] = [];
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        this.offset += n;
      }
    } finally {
      closeSync(fd);
    }
    if (chunks.length === 0) return [];
    const text = this.partial + Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const out: LogEvent[] = [];
    for (const line of lines) {
      const e = parseLine(line);
      if (e) out.push(e);
    }
    this.events.push(...out);
    return out;
  }

  /** cuts returns the cut events read so far. */
  cuts(): CutEvent[] {
    return this.events.filter((e) => e.msg === 'head cut into blocks').map(cutOf);
  }

  /** uploads maps the ULID of every block uploaded so far to the time of its `uploaded block` line. */
  uploads(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.events) if (e.msg === 'uploaded block' && typeof e.fields['block'] === 'string') m.set(e.fields['block'], e.t);
    return m;
  }

  /** checkpointsIn returns the times of the `WAL checkpoint` lines in [t0, t1]. */
  checkpointsIn(t0: number, t1: number): number[] {
    return this.events.filter((e) => e.msg === 'WAL checkpoint' && e.t >= t0 && e.t <= t1).map((e) => e.t);
  }
}

/** parseLine parses one JSON log line; undefined for anything else (a stack trace, a blank line). */
export function parseLine(line: string): LogEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return undefined; }
  const t = typeof o['ts'] === 'string' ? Date.parse(o['ts']) : NaN;
  if (!Number.isFinite(t) || typeof o['msg'] !== 'string') return undefined;
  const { ts: _ts, msg, ...fields } = o;
  return { t, msg, fields };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? NaN));

/** cutOf reads a `head cut into blocks` event; its window ends at the line's time and lasts `ms`. */
export function cutOf(e: LogEvent): CutEvent {
  const f = e.fields;
  const ms = num(f['ms']);
  const ulids = typeof f['ulids'] === 'string' && f['ulids'] !== '' ? f['ulids'].split(',') : [];
  return {
    start: e.t - ms, end: e.t, ms, upTo: Date.parse(String(f['up_to'])), blocks: num(f['blocks']), ulids,
    samples: num(f['samples']), chunksDropped: num(f['chunks_dropped']), bytesFreed: num(f['bytes_freed']),
  };
}
