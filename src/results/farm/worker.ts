/** A worker rank's loop: ask for work, run it, send the result (which asks for more), until "stop". */
import { TimeoutError } from "../../errors.js";
import type { Communicator } from "../../groups/communicator.js";
import { TAG_TO_MASTER, TAG_TO_WORKER, type ToMaster, type ToWorker } from "./protocol.js";
import { runTask } from "./run-task.js";

/**
 * Serves tasks from rank 0 until it says stop. Rejects if the job fails. Waiting for work is not a
 * failure however long it lasts (rank 0 may be waiting on a long task elsewhere): a dead rank 0 is
 * seen by the transport, an overdue task by rank 0's watchdog.
 */
export async function workerLoop(comm: Communicator, timeoutMs: number | undefined): Promise<number> {
  let ran = 0;
  let reply: ToMaster = { t: "ready" };
  for (;;) {
    await comm.send(reply, 0, { tag: TAG_TO_MASTER });
    let msg: ToWorker;
    for (;;) {
      try {
        msg = await comm.recv<ToWorker>({ source: 0, tag: TAG_TO_WORKER, timeoutMs });
        break;
      } catch (e) {
        if (!(e instanceof TimeoutError) || comm.engine.failed) throw e;
      }
    }
    if (msg.t === "stop") return ran;
    reply = await runTask(msg, comm.rank);
    ran++;
  }
}
