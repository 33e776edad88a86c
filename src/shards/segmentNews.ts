/**
 * NewsBroadcast is the shard's side of its segment news (SegmentNews, protocol.ts): every reader
 * of the head (the main thread from the start; query and cut threads that subscribe later) gets a
 * port, and each segment the shard adds or drops is told on all of them. A late subscriber is
 * first sent the segments alive now, then `caughtUp`, so that from there on its view knows every
 * segment a ref the shard hands out can point into. Runs on the shard thread; a message per
 * segment (64 MiB of arena, 16k series), never per sample.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SegmentNews } from './protocol.js';
import type { Head } from './head.js';

/** NewsBroadcast sends one shard's segment news to every subscribed reader. */
export class NewsBroadcast {
  private readonly ports = new Set<MessagePort>();

  /** `first` is the news port of the thread that started the shard; it is caught up from the start. */
  constructor(first: MessagePort) {
    this.ports.add(first);
  }

  /** send tells every reader. A port whose reader has gone is dropped on its 'close'. */
  send(m: SegmentNews): void {
    for (const p of this.ports) p.postMessage(m);
  }

  /** subscribe sends `port` the live segments of `head`, then `caughtUp`, and adds it to the readers. */
  subscribe(port: MessagePort, head: Head): void {
    head.series.segs.forEach((s, index) => port.postMessage({ type: 'segment', kind: 'series', index, sab: s.sab } satisfies SegmentNews));
    head.arena.segments.forEach((s, index) => {
      if (s !== undefined) port.postMessage({ type: 'segment', kind: 'arena', index, sab: s.buffer } satisfies SegmentNews);
    });
    port.postMessage({ type: 'caughtUp' } satisfies SegmentNews);
    this.ports.add(port);
    port.once('close', () => this.ports.delete(port));
    // The port must not keep the shard's event loop alive on its own.
    port.unref();
  }

  /** readers is how many ports news go to (the first one included). */
  get readers(): number {
    return this.ports.size;
  }
}
