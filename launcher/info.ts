/** `zmpi info`: what this process would be, read from its environment, as a table or JSON. */
import Table from "cli-table3";
import { detectEnvironment } from "../src/env/detect.js";
import type { RankEnvironment } from "../src/env/types.js";
import { compressHostlist } from "../src/env/hostlist.js";
import { singleCopySupport } from "../src/transport/cma.js";

/** The rows `zmpi info` prints. */
export function infoRows(env: RankEnvironment): Array<[string, string]> {
  const c = env.coordinator;
  return [
    ["method", env.method],
    ["rank", `${env.rank} of ${env.size}`],
    ["node", `${env.nodeName} (index ${env.nodeIndex} of ${env.numNodes})`],
    ["local rank", `${env.localRank} of ${env.localSize}`],
    ["hostname", env.hostname],
    ["node list", env.nodeList.length ? compressHostlist(env.nodeList) : "-"],
    ["tasks per node", env.tasksPerNode.length ? env.tasksPerNode.join(",") : "-"],
    ["job / step", `${env.jobId} / ${env.stepId}`],
    ["coordinator", c.portSource === "none" ? "none (world of size 1)" : `${c.host}:${c.port} (port: ${c.portSource})${c.runsHere ? ", runs here" : ""}`],
    ["CPUs per task", env.cpusPerTask === null ? "not set" : String(env.cpusPerTask)],
    ["bind address", env.bindAddress ?? `resolve ${env.nodeName}`],
    ["single-copy (same machine)", singleCopyRow()],
  ];
}

function singleCopyRow(): string {
  const s = singleCopySupport();
  return s.available ? "available (cross-memory attach)" : `off: ${s.reason}`;
}

/** Prints the detected environment; returns the exit status. */
export function info(json: boolean, out: NodeJS.WritableStream = process.stdout): number {
  const env = detectEnvironment(process.env);
  if (json) {
    out.write(`${JSON.stringify(env, null, 2)}\n`);
    return 0;
  }
  const table = new Table({ head: ["zmpi", "detected"], style: { head: [], border: [] } });
  for (const row of infoRows(env)) table.push(row);
  out.write(`${table.toString()}\n`);
  for (const w of env.warnings) out.write(`warning: ${w}\n`);
  return 0;
}
