/**
 * A small structured logger: one line per event, logfmt (the Thanos default) or JSON, to stderr.
 * Fields are key/value pairs; `msg` comes first after time and level.
 */
const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;
type Level = keyof typeof LEVELS;

/** Logger writes leveled events with fixed context fields. */
export class Logger {
  private readonly min: number;
  private readonly json: boolean;
  private readonly ctx: Record<string, unknown>;

  constructor(level: string = 'info', format: string = 'logfmt', ctx: Record<string, unknown> = {}) {
    this.min = LEVELS[level as Level] ?? 1;
    this.json = format === 'json';
    this.ctx = ctx;
  }

  /** with returns a logger that adds `ctx` to every event. */
  with(ctx: Record<string, unknown>): Logger {
    const l = new Logger('info', this.json ? 'json' : 'logfmt', { ...this.ctx, ...ctx });
    (l as unknown as { min: number }).min = this.min;
    return l;
  }

  debug(msg: string, fields?: Record<string, unknown>): void { this.log('debug', msg, fields); }
  info(msg: string, fields?: Record<string, unknown>): void { this.log('info', msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>): void { this.log('warn', msg, fields); }
  error(msg: string, fields?: Record<string, unknown>): void { this.log('error', msg, fields); }

  private log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < this.min) return;
    const all: Record<string, unknown> = { ts: new Date().toISOString(), level, msg, ...this.ctx, ...fields };
    if (this.json) {
      process.stderr.write(JSON.stringify(all) + '\n');
      return;
    }
    const parts: string[] = [];
    for (const [k, v] of Object.entries(all)) {
      const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
      parts.push(`${k}=${/[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s}`);
    }
    process.stderr.write(parts.join(' ') + '\n');
  }
}
