#!/usr/bin/env node
// The `zmpi` command: runs the compiled CLI in dist/, which ships in the package (its `prepack`
// builds it) and is built in a checkout by `npm ci` / `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const cli = fileURLToPath(new URL("../dist/launcher/cli.js", import.meta.url));
if (!existsSync(cli)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const installed = /[\\/]node_modules[\\/]/.test(root);
  process.stderr.write(
    installed
      ? `zmpi: ${cli} is missing: this copy of zmpi (${root}) was packed without its compiled JavaScript; install a tarball made by "npm pack", whose prepack step builds it\n`
      : `zmpi: ${cli} is missing; run "npm run build" (npm ci does it) in ${root} first\n`,
  );
  process.exit(2);
}
const { main } = await import(pathToFileURL(cli).href);
process.exitCode = await main(process.argv);
