/** The `zmpi` command line (commander). */
import { Command } from "commander";
import { positiveInt, positiveNumber } from "./args.js";
import { benchCommand } from "./bench/command.js";
import { experimentCommands } from "./experiments.js";
import { adviseCommand } from "./advise.js";
import { info } from "./info.js";
import { launch } from "./launch.js";

/** Builds the program; exported for tests. */
export function program(setStatus: (s: number) => void): Command {
  const cmd = new Command("zmpi").description("MPI-style runtime for Node.js over ZeroMQ").showHelpAfterError().enablePositionalOptions();
  cmd
    .command("launch")
    .description("start N ranks of a script on this machine (a local mpirun)")
    .requiredOption("-n, --np <N>", "number of ranks", positiveInt)
    .option("--nodes <K>", "spread the ranks over K pretend nodes (node index and local rank, tcp between them)", positiveInt)
    .option("--timeout <S>", "stop the job after S seconds (exit status 124)", positiveNumber)
    .option("--slurm-env", "give ranks real SLURM_* variables, so the Slurm code path runs")
    .option("--no-prefix", "do not prefix output lines with the rank")
    .option("--no-kill-on-bad-exit", "when a rank fails, let the others notice and exit by themselves")
    .option("--no-huge-pages", "do not set GLIBC_TUNABLES=glibc.malloc.hugetlb=1 for the ranks (transparent huge pages for large arrays)")
    .argument("<script>", "script to run (.js, .mjs or .ts)")
    .argument("[args...]", "arguments for the script")
    .passThroughOptions()
    .action(
      async (
        script: string,
        args: string[],
        o: { np: number; nodes?: number; timeout?: number; slurmEnv?: boolean; prefix: boolean; killOnBadExit: boolean; hugePages: boolean },
      ) => {
        setStatus(
          await launch({
            np: o.np,
            nodes: o.nodes,
            timeoutSec: o.timeout,
            slurmEnv: o.slurmEnv,
            prefix: o.prefix,
            killOnBadExit: o.killOnBadExit,
            hugePages: o.hugePages,
            script,
            args,
          }),
        );
      },
    );
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

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  try {
    await program((s) => (status = s)).parseAsync(argv);
  } catch (e) {
    process.stderr.write(`zmpi: ${(e as Error).message}\n`);
    return 1;
  }
  return status;
}
