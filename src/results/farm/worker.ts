/** A worker rank's loop: ask for work, run it, send the result (which asks for more), until "stop". */
import type { Communicator } from "../../groups/communicator.js";
import { TAG_TO_MASTER, TAG_TO_WORKER, type ToMaster, type ToWorker } from "./protocol.js";
import { runTask } from "./run-task.js";

/** Serves tasks from rank 0 until it says stop. Rejects if the job fails or a wait passes its deadline. */
export async function workerLoop(comm: Communicator, timeoutMs: number | undefined): Promise<number> {
  let ran = 0;
  let reply: ToMaster = { t: "ready" };
  for (;;) {
    await comm.send(reply, 0, { tag: TAG_TO_MASTER });
    const msg = await comm.recv<ToWorker>({ source: 0, tag: TAG_TO_WORKER, timeoutMs });
    if (msg.t === "stop") return ran;
    reply = await runTask(msg, comm.rank);
    ran++;
  }
}
