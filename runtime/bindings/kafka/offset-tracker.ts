/**
 * Which offset of a partition may be committed: only the contiguous prefix of handled records.
 * Records are handed out in offset order; any of them may finish first. The committable offset is
 * the lowest still-unfinished offset, or last handed-out + 1 when none is outstanding — Kafka's
 * "next offset to read" convention. Gaps in offsets (compaction, transaction markers) are fine:
 * only handed-out offsets count.
 */
export class OffsetTracker {
  /** Handed out, not finished, ascending. */
  readonly #outstanding: bigint[] = [];
  #firstStarted: bigint | undefined;
  #lastStarted: bigint | undefined;
  #committed: bigint | undefined;

  start(offset: bigint): void {
    if (this.#lastStarted !== undefined && offset <= this.#lastStarted) {
      throw new RangeError(`offset ${offset} handed out after ${this.#lastStarted}: records must be started in order`);
    }
    this.#firstStarted ??= offset;
    this.#outstanding.push(offset);
    this.#lastStarted = offset;
  }

  finish(offset: bigint): void {
    // Records of a partition are handled one at a time: the one finishing is the only one out.
    if (this.#outstanding.length === 1 && this.#outstanding[0] === offset) {
      this.#outstanding.pop();
      return;
    }
    const index = this.#outstanding.indexOf(offset);
    if (index >= 0) this.#outstanding.splice(index, 1);
  }

  /** The offset to commit now, or undefined when nothing new became committable. */
  committable(): bigint | undefined {
    if (this.#lastStarted === undefined || this.#firstStarted === undefined) return undefined;
    const next = this.#outstanding[0] ?? this.#lastStarted + 1n;
    // Nothing handled at the head yet: that is only the starting position again.
    if (next <= this.#firstStarted) return undefined;
    if (this.#committed !== undefined && next <= this.#committed) return undefined;
    return next;
  }

  /** Records that `offset` (a value from `committable`) was committed. */
  committed(offset: bigint): void {
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
  }

  get outstanding(): number {
    return this.#outstanding.length;
  }
}
