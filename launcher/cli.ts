/**
 * The `zmpi` command line. `zmpi launch` is on every job's critical path (no rank starts before
 * the launcher has loaded), so it is built alone: the whole program (program.ts) brings the
 * experiment, bench and advise commands with zod, hyparquet and cli-table3, 234 modules, ~270 ms
 * of CPU before the first rank was spawned (measured, Node 20, this VM); `launch` alone needs a few.
 */
import { Command } from "commander";
import { launchCommand } from "./launch-command.js";

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  try {
    const setStatus = (s: number) => (status = s);
    // argv: [node, zmpi, subcommand, ...]
    const cmd = argv[2] === "launch" ? launchOnly(setStatus) : (await import("./program.js")).program(setStatus);
    await cmd.parseAsync(argv);
  } catch (e) {
    process.stderr.write(`zmpi: ${(e as Error).message}\n`);
    return 1;
  }
  return status;
}

/** The program with only its `launch` command (same name, description and behaviour). */
function launchOnly(setStatus: (s: number) => void): Command {
  return new Command("zmpi").description("MPI-style runtime for Node.js over ZeroMQ").showHelpAfterError().enablePositionalOptions().addCommand(launchCommand(setStatus));
}
