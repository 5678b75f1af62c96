// Builds the cross-memory-attach addon (Linux only) with the node-gyp that npm provides to scripts.
// A failed build does not fail the install: zmpi then sends same-machine messages over ipc, and
// `zmpi info` and the transport test say why single-copy transfers are off.
import { spawnSync } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

if (process.platform !== "linux") {
  console.log(`zmpi: native addon skipped: cross-memory attach is Linux-only (this is ${process.platform})`);
  process.exit(0);
}
const dir = dirname(fileURLToPath(import.meta.url));
const r = spawnSync("node-gyp", ["rebuild", "--silent", "-C", dir], { stdio: "inherit", shell: process.platform === "win32" });
if (r.status !== 0) {
  console.warn(`zmpi: WARNING: the native addon did not build (node-gyp ${r.error ? r.error.message : `exit ${r.status}`}); same-machine transfers will use two copies over ipc`);
}
