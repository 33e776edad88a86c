/**
 * HeadFeed keeps a HeadView of one shard's head current from the shard's segment news
 * (SegmentNews, src/shards/protocol.ts) on one port. News are taken two ways: by the port's
 * listener when this thread's event loop is free, and synchronously (receiveMessageOnPort) when
 * a read meets an address in a segment the view does not know yet, which the shard announced
 * before it handed out the address. A feed opened on a running shard (a query or cut thread that
 * subscribed late) is first sent every live segment and then `caughtUp`: wait for caughtUp()
 * before reading refs through it. HeadFeeds keeps one feed per shard for a thread that reads refs
 * handed to it by the main thread (query threads, the cut thread). Any thread; touches only its
 * views and its ports.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { HeadView } from './headView.js';
import { ErrorCode, SluiceError } from '../errors.js';
import type { SegmentNews } from '../shards/protocol.js';

/** HeadFeed is a HeadView and the port that keeps it current. */
export class HeadFeed {
  readonly view = new HeadView();
  private readonly port: MessagePort;
  private upToDate: boolean;
  private wakeCaughtUp: (() => void) | undefined;
  private readonly caught: Promise<void>;
  /** closed is set once the shard's end is gone (the shard thread died or stopped). */
  closed = false;

  /** `caughtUp`: the port was given to the shard at its start, so it has every segment from the first. */
  constructor(port: MessagePort, caughtUp: boolean) {
    this.port = port;
    this.upToDate = caughtUp;
    this.caught = caughtUp ? Promise.resolve() : new Promise<void>((res) => { this.wakeCaughtUp = res; });
    port.on('message', (m: SegmentNews) => this.apply(m));
    port.once('close', () => {
      this.closed = true;
      // Nobody waits for news that will not come.
      this.wakeCaughtUp?.();
    });
    port.unref();
    this.view.setRefresh(() => this.drain());
  }

  /** caughtUp resolves once the view holds every segment the shard had when the feed opened. */
  caughtUp(): Promise<void> {
    return this.caught;
  }

  /** isCaughtUp says whether caughtUp() has resolved (or will at once). */
  get isCaughtUp(): boolean {
    return this.upToDate;
  }

  /** drain applies the news waiting on the port now; true if there were any. */
  drain(): boolean {
    let got = false;
    for (let r = receiveMessageOnPort(this.port); r !== undefined; r = receiveMessageOnPort(this.port)) {
      this.apply(r.message as SegmentNews);
      got = true;
    }
    return got;
  }

  private apply(m: SegmentNews): void {
    switch (m.type) {
      case 'segment': this.view.addSegment(m.kind, m.index, m.sab); break;
      case 'dropSegment': this.view.arena.dropSegment(m.index); break;
      case 'caughtUp':
        this.upToDate = true;
        this.wakeCaughtUp?.();
        this.wakeCaughtUp = undefined;
        break;
    }
  }

  /** close stops the feed (the shard drops the port when it sees it closed). */
  close(): void {
    this.closed = true;
    this.port.close();
  }
}

/** HeadRefs is one shard's series matching a select, as refs valid in `generation` (its thread, src/shards/pool.ts). */
export interface HeadRefs {
  shard: number;
  generation: number;
  refs: Int32Array;
}

/** Subscriber opens feeds: it asks the main thread for one port per shard (the current generation's). */
export type Subscriber = (shards: number[]) => Promise<{ ports: MessagePort[]; generations: number[] }>;

/** HeadFeeds holds a thread's feeds, one per shard, kept across the reads (queries, cuts) the thread runs. */
export class HeadFeeds {
  private readonly feeds = new Map<number, { generation: number; feed: HeadFeed }>();
  private opening: Promise<void> | undefined;

  /** ensure has a caught-up feed of each shard in `heads`, of the generation its refs belong to. */
  async ensure(heads: readonly HeadRefs[], subscribe: Subscriber): Promise<void> {
    // Two queries in this thread may need the same new feeds: one asks, the other waits for it.
    while (this.opening !== undefined) await this.opening;
    const missing = heads.filter((h) => {
      const f = this.feeds.get(h.shard);
      return f === undefined || f.generation !== h.generation || f.feed.closed;
    }).map((h) => h.shard);
    if (missing.length > 0) {
      this.opening = this.open(missing, subscribe);
      try {
        await this.opening;
      } finally {
        this.opening = undefined;
      }
    }
    for (const h of heads) {
      const f = this.feeds.get(h.shard)!;
      if (!f.feed.isCaughtUp) await f.feed.caughtUp();
      if (f.generation !== h.generation || f.feed.closed) {
        throw new SluiceError(ErrorCode.Unavailable, `shard ${h.shard} restarted since its series were selected; try again`);
      }
    }
  }

  private async open(shards: number[], subscribe: Subscriber): Promise<void> {
    const { ports, generations } = await subscribe(shards);
    shards.forEach((shard, i) => {
      this.feeds.get(shard)?.feed.close();
      this.feeds.set(shard, { generation: generations[i]!, feed: new HeadFeed(ports[i]!, false) });
    });
  }

  /** view is shard `shard`'s head as this thread reads it (after ensure()). */
  view(shard: number): HeadView {
    const f = this.feeds.get(shard);
    if (f === undefined) throw new Error(`no feed of shard ${shard}`);
    return f.feed.view;
  }

  /** close closes every feed (the thread is ending). */
  close(): void {
    for (const f of this.feeds.values()) f.feed.close();
    this.feeds.clear();
  }
}
