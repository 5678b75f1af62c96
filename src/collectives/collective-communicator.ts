/**
 * The collective layer of a communicator. Filled by the collectives issue; for now it carries the
 * barrier every layer above needs.
 */
import { BaseCommunicator } from "../comm/communicator.js";
import { Kind } from "../transport/frame.js";

/** Point-to-point plus collectives. */
export class CollectiveCommunicator extends BaseCommunicator {
  /** @internal sequence number of the next collective on this communicator. */
  protected collSeq = 0;

  /** Blocks until every rank of the communicator has called it (dissemination algorithm). */
  async barrier(): Promise<void> {
    const seq = this.collSeq++;
    const n = this.size;
    for (let dist = 1, round = 0; dist < n; dist *= 2, round++) {
      const to = (this.rank + dist) % n;
      const from = (this.rank - dist + n) % n;
      const tag = (seq % 0x100000) * 64 + round;
      const r = this.recvOn(this.ctx.coll, from, tag, false, "barrier");
      await this.sendOn(Kind.COLL, null, to, tag);
      await r;
    }
  }
}
