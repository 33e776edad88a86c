/**
 * PendingCalls numbers the requests a thread wrapper posts to its worker and settles each one
 * when the worker answers with its id, or all of them when the worker fails or exits. Shared by
 * the cut and checkpoint threads (src/blocks/cutThread.ts, src/wal/checkpointThread.ts).
 */
import type { Worker } from 'node:worker_threads';

/** PendingCalls is one worker's table of requests waiting for their answers. */
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

  /**
   * watch fails every waiting request when `w` errs or exits, after telling `gone` (which forgets
   * the worker, so the next call starts another); `what` names the thread in the exit error.
   */
  watch(w: Worker, what: string, gone: () => void): void {
    const fail = (e: Error): void => {
      gone();
      this.failAll(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`${what} exited (code ${code})`)));
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
