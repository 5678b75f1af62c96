/** The `zmpi launch` subcommand (commander), kept apart from the other commands so that starting
 * a job loads only what launching needs (cli.ts). */
import { Command } from "commander";
import { positiveInt, positiveNumber } from "./args.js";
import { launch } from "./launch.js";

/** `zmpi launch`; `setStatus` receives the exit status. */
export function launchCommand(setStatus: (s: number) => void): Command {
  return new Command("launch")
    .description("start N ranks of a script on this machine (a local mpirun)")
    .showHelpAfterError()
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
}
