/**
 * Consumer-group emulation for bindings without groups (`subscribe(..., { group, emulate: true })`):
 * the subscriptions of one client that name the same group share one transport subscription and
 * take turns (round robin). Only within this process: another process with the same group still
 * gets every message. That weaker guarantee is why it needs `emulate: true`.
 */
import type { ConsumeSpec, Delivery, Transport, TransportSubscription } from './transport.ts';

type OnDelivery = (delivery: Delivery) => Promise<void>;

interface Member {
  onDelivery: OnDelivery;
  paused: boolean;
}

export class EmulatedGroup {
  readonly #members: Member[] = [];
  readonly #onEmpty: () => void;
  #shared: Promise<TransportSubscription> | undefined;
  #next = 0;
  #pausedShared = false;

  constructor(onEmpty: () => void) {
    this.#onEmpty = onEmpty;
  }

  get size(): number {
    return this.#members.length;
  }

  /** Adds a member; the first one opens the shared transport subscription. */
  async join(transport: Transport, spec: ConsumeSpec, onDelivery: OnDelivery): Promise<TransportSubscription> {
    const member: Member = { onDelivery, paused: false };
    this.#members.push(member);
    try {
      this.#shared ??= transport.consume({ ...spec, group: undefined }, (delivery) => this.#dispatch(delivery));
      await this.#shared;
    } catch (error) {
      this.#remove(member);
      this.#shared = undefined;
      throw error;
    }
    return {
      pause: () => {
        member.paused = true;
        return this.#syncPause();
      },
      resume: () => {
        member.paused = false;
        return this.#syncPause();
      },
      close: async () => {
        this.#remove(member);
        if (this.#members.length === 0) {
          const shared = this.#shared;
          this.#shared = undefined;
          this.#onEmpty();
          await (await shared)?.close();
        }
      },
    };
  }

  #dispatch(delivery: Delivery): Promise<void> {
    const count = this.#members.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#next + i) % count;
      const member = this.#members[index] as Member;
      if (!member.paused) {
        this.#next = index + 1;
        return member.onDelivery(delivery);
      }
    }
    // Every member paused (or none left): hand it back rather than hold it.
    return delivery.nack({ requeue: true });
  }

  /** The shared subscription pauses only when every member has paused. */
  async #syncPause(): Promise<void> {
    const shared = await this.#shared;
    if (!shared) return;
    const allPaused = this.#members.length > 0 && this.#members.every((m) => m.paused);
    if (allPaused && !this.#pausedShared) {
      this.#pausedShared = true;
      await shared.pause();
    } else if (!allPaused && this.#pausedShared) {
      this.#pausedShared = false;
      await shared.resume();
    }
  }

  #remove(member: Member): void {
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
  }
}
