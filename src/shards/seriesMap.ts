/**
 * SeriesMap finds a series ref by its 64-bit hash without a JS object per series: an open-addressing
 * table (linear probing) of `ref + 1` in an Int32Array, keyed by the hash's low word. The caller
 * confirms a candidate by comparing the full hash and the label bytes stored in the series record,
 * so hash collisions are resolved by probing on. Owned by one shard thread.
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
