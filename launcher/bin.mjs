#!/usr/bin/env node
// The `zmpi` command. The TypeScript sources are compiled to dist/ by `npm ci` / `npm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const cli = fileURLToPath(new URL("../dist/launcher/cli.js", import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write(`zmpi: ${cli} is missing; run "npm run build" (npm ci does it) in the zmpi package first\n`);
  process.exit(2);
}
const { main } = await import(pathToFileURL(cli).href);
process.exitCode = await main(process.argv);
