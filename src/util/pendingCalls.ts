/**
 * PendingCalls numbers the requests a thread wrapper posts to its worker and settles each one
 * when the worker answers with its id, or all of them when the worker fails or exits. Shared by
 * the cut and checkpoint threads (src/blocks/cutThread.ts, src/wal/checkpointThread.ts).
 */
export class PendingCalls<T> {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: T) => void; reject: (e: Error) => void }>();

  /** call takes a new id, hands it to `post` (which sends the request) and waits for its answer. */
  call(post: (id: number) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      post(id);
    });
  }

  /** resolve answers request `id` with its value; an id not waiting is ignored. */
  resolve(id: number, value: T): void {
    this.take(id)?.resolve(value);
  }

  /** reject fails request `id` with the worker's error message; an id not waiting is ignored. */
  reject(id: number, message: string): void {
    this.take(id)?.reject(new Error(message));
  }

  /** failAll fails every request still waiting (the worker died). */
  failAll(e: Error): void {
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  private take(id: number): { resolve: (v: T) => void; reject: (e: Error) => void } | undefined {
    const p = this.waiting.get(id);
    this.waiting.delete(id);
    return p;
  }
}
