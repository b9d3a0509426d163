/**
 * Counts of distinct values with a cap on how many are tracked, for profiling in bounded memory.
 * Numbers live in an open-addressing hash table over Float64Array (no boxing, no per-value
 * allocation); strings in a Map. Once `cap` distinct values are tracked, new values are not added
 * (their occurrences are not counted) and {@link ValueCounts.capped} turns true.
 */
export class ValueCounts {
  /** True once a value was turned away because `cap` distinct values were already tracked. */
  capped = false;
  private readonly strings = new Map<string, number>();
  private keys = new Float64Array(0);
  private counts = new Uint32Array(0);
  private used = new Uint8Array(0);
  private numberCount = 0;
  private readonly bits = new Float64Array(1);
  private readonly words = new Uint32Array(this.bits.buffer);

  constructor(private readonly cap: number) {}

  /** Distinct values tracked. */
  get size(): number {
    return this.numberCount + this.strings.size;
  }

  /** Counts one string. */
  addString(value: string): void {
    const seen = this.strings.get(value);
    if (seen !== undefined) this.strings.set(value, seen + 1);
    else if (this.size < this.cap) this.strings.set(value, 1);
    else this.capped = true;
  }

  /** Counts one number (not NaN; −0 counts as 0). */
  addNumber(value: number): void {
    const key = value === 0 ? 0 : value;
    if (this.keys.length === 0) this.grow(64);
    let mask = this.keys.length - 1;
    let slot = this.hash(key) & mask;
    while (this.used[slot] === 1) {
      if (this.keys[slot] === key) {
        this.counts[slot]!++;
        return;
      }
      slot = (slot + 1) & mask;
    }
    if (this.size >= this.cap) {
      this.capped = true;
      return;
    }
    if ((this.numberCount + 1) * 2 > this.keys.length) {
      this.grow(this.keys.length * 2);
      mask = this.keys.length - 1;
      slot = this.hash(key) & mask;
      while (this.used[slot] === 1) slot = (slot + 1) & mask;
    }
    this.used[slot] = 1;
    this.keys[slot] = key;
    this.counts[slot] = 1;
    this.numberCount++;
  }

  /** Every tracked value with its count; numbers as `String(number)`. */
  entries(): Map<string, number> {
    const all = new Map<string, number>();
    for (let slot = 0; slot < this.keys.length; slot++) {
      if (this.used[slot] === 1) all.set(String(this.keys[slot]), this.counts[slot]!);
    }
    for (const [key, count] of this.strings) all.set(key, (all.get(key) ?? 0) + count);
    return all;
  }

  private hash(value: number): number {
    this.bits[0] = value;
    let h = Math.imul(this.words[0]! ^ Math.imul(this.words[1]!, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private grow(size: number): void {
    const { keys, counts, used } = this;
    this.keys = new Float64Array(size);
    this.counts = new Uint32Array(size);
    this.used = new Uint8Array(size);
    const mask = size - 1;
    for (let old = 0; old < keys.length; old++) {
      if (used[old] !== 1) continue;
      let slot = this.hash(keys[old]!) & mask;
      while (this.used[slot] === 1) slot = (slot + 1) & mask;
      this.used[slot] = 1;
      this.keys[slot] = keys[old]!;
      this.counts[slot] = counts[old]!;
    }
  }
}
