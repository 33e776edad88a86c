/**
 * SeriesMap finds a series ref by its 64-bit hash without a JS object per series: an open-addressing
 * table (linear probing) of `ref + 1` in an Int32Array, keyed by the hash's low word. The caller
 * confirms a candidate by comparing the full hash and the label bytes stored in the series record,
 * so hash collisions are resolved by probing on. Owned by one shard thread.
 *
 * Removal (series GC) shifts the rest of the probe run back instead of leaving tombstones, so
 * lookups stay as short under churn as without it. The table never shrinks: its capacity follows
 * the most series held at once.
 */
export class SeriesMap {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1 << 16) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** memoryBytes is the table's size. */
  memoryBytes(): number {
    return this.slots.byteLength;
  }

  /**
   * probeStart begins a lookup of `hashLo`; iterate with probeNext until it returns -1.
   * Hot path: no allocation, the cursor lives in the instance.
   */
  private cursor = 0;
  probeStart(hashLo: number): number {
    this.cursor = (Math.imul(hashLo, 0x9e3779b1) >>> 0) & this.mask;
    return this.probeNext();
  }

  /** probeNext returns the next candidate ref, or -1 at the first empty slot. */
  probeNext(): number {
    const v = this.slots[this.cursor]!;
    if (v === 0) return -1;
    this.cursor = (this.cursor + 1) & this.mask;
    return v - 1;
  }

  /** insert adds `ref` under `hashLo`. The caller has checked it is absent. */
  insert(hashLo: number, ref: number, hashLoOf: (ref: number) => number): void {
    if ((this.size + 1) * 2 > this.slots.length) this.grow(hashLoOf);
    let i = (Math.imul(hashLo, 0x9e3779b1) >>> 0) & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = ref + 1;
    this.size++;
  }

  /**
   * remove deletes `ref` (stored under `hashLo`) and returns whether it was there. `hashLoOf`
   * must still answer for every ref in the table (the records of removed series are intact).
   */
  remove(hashLo: number, ref: number, hashLoOf: (ref: number) => number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let i = (Math.imul(hashLo, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const v = slots[i]!;
      if (v === 0) return false;
      if (v === ref + 1) break;
      i = (i + 1) & mask;
    }
    // Backward shift: move each later entry of the run into the hole unless its home slot lies
    // cyclically in (hole, its position], where it would no longer be found.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = slots[j]!;
      if (v === 0) break;
      const home = (Math.imul(hashLoOf(v - 1), 0x9e3779b1) >>> 0) & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      slots[i] = v;
      i = j;
    }
    slots[i] = 0;
    this.size--;
    return true;
  }

  private grow(hashLoOf: (ref: number) => number): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.slots.length - 1;
    for (let j = 0; j < old.length; j++) {
      const v = old[j]!;
      if (v === 0) continue;
      let i = (Math.imul(hashLoOf(v - 1), 0x9e3779b1) >>> 0) & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = v;
    }
  }
}
