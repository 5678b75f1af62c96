/**
 * `npm run bench -- [options]`: the same as `zmpi bench [options]`, runnable straight from the
 * sources through tsx (no build needed). See launcher/bench/command.ts for the options.
 */
import { benchCommand } from "./bench/command.js";

let status = 0;
try {
  await benchCommand((s) => (status = s), "npm run bench --")
    .showHelpAfterError()
    .parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`zmpi bench: ${(e as Error).message}\n`);
  status = 1;
}
process.exitCode = status;
