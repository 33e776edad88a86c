/**
 * The `sluice` command: `sluice receive [flags]` runs a receiver; `sluice --help` lists commands.
 */
import { parseReceiveFlags, toConfig, helpText } from './receive/flags.js';
import { ReceiveNode } from './receive/node.js';
import { isSluiceError } from './errors.js';

const USAGE = `usage: sluice <command> [flags]

Commands:
  receive     accept Prometheus remote-write (drop-in for thanos receive)
  promqltest  run Prometheus promqltest scripts against Sluice's PromQL engine:
              sluice promqltest FILE...  (one line per failing eval, then "N passed, M failed, K skipped")
  hashring    check hashring files: sluice hashring plan --from OLD --to NEW (what moves),
              sluice hashring lint FILE (misconfigured rings; exits 1 on an error),
              sluice hashring generate --replicas N --namespace NS (the ring of a StatefulSet)

Run 'sluice receive --help' for its flags.`;

/** SHUTDOWN_BACKSTOP_MS: past --http-grace-period plus this, a shutdown that still hangs exits 1. */
const SHUTDOWN_BACKSTOP_MS = 5000;

/** main runs the CLI and returns the exit code (or never returns while a receiver runs). */
export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'promqltest') {
    const { promqltestMain } = await import('./query/promqltest/index.js');
    return promqltestMain(rest);
  }
  if (cmd === 'hashring') {
    const { hashringMain } = await import('./peer/hashringCli.js');
    return hashringMain(rest);
  }
  if (cmd !== 'receive') {
    console.error(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText());
    return 0;
  }
  let node: ReceiveNode;
  try {
    node = new ReceiveNode(toConfig(parseReceiveFlags(rest)));
  } catch (e) {
    if (isSluiceError(e)) { console.error(e.message); return 2; }
    throw e;
  }
  const shutdown = (sig: string): void => {
    node.log.info('signal received', { signal: sig });
    // stop() keeps to the grace period itself (requests cut off, block uploads abandoned) and
    // resolves once the WALs are closed; exit 0 then, even if sockets or timers remain. Only a
    // WAL close that hangs (a dead disk) gets here: exit 1 rather than hang.
    setTimeout(() => {
      node.log.error('shutdown exceeded the grace period; exiting', { grace_ms: node.cfg.httpGracePeriodMs });
      process.exit(1);
    }, node.cfg.httpGracePeriodMs + SHUTDOWN_BACKSTOP_MS).unref();
    node.stop().then(() => process.exit(0), (e: unknown) => {
      node.log.error('shutdown failed', { err: String(e) });
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await node.start();
  return undefined;
}
