/** The whole `zmpi` command line (commander): every subcommand. */
import { Command } from "commander";
import { adviseCommand } from "./advise.js";
import { benchCommand } from "./bench/command.js";
import { experimentCommands } from "./experiments.js";
import { info } from "./info.js";
import { launchCommand } from "./launch-command.js";

/** Builds the program; exported for tests. */
export function program(setStatus: (s: number) => void): Command {
  const cmd = new Command("zmpi").description("MPI-style runtime for Node.js over ZeroMQ").showHelpAfterError().enablePositionalOptions();
  cmd.addCommand(launchCommand(setStatus));
  cmd
    .command("info")
    .description("print what this process detects: rank, size, node, local rank, coordinator, CPUs, method")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => setStatus(info(!!o.json)));
  cmd.addCommand(benchCommand(setStatus));
  for (const c of experimentCommands(setStatus)) cmd.addCommand(c);
  cmd.addCommand(adviseCommand(setStatus));
  return cmd;
}
