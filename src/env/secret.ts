/**
 * The job secret that authenticates every connection between ranks, and the per-job key derived
 * from it. The secret itself never leaves this process: every connection proves knowledge of keys
 * derived from {@link deriveJobKey}'s key (CURVE on ZeroMQ, a challenge-response on Unix sockets),
 * so whoever listens on a port or a socket path learns nothing that admits it anywhere, and the
 * long-lived `~/.zmpi/secret` cannot be learned from any one job.
 */

import { hkdfSync, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UsageError } from "../errors.js";
import type { LaunchMethod } from "./types.js";

/** Shortest secret accepted from `ZMPI_SECRET` or a secret file. */
const MIN_SECRET_LENGTH = 16;

/** A resolved secret and where it came from. */
interface ResolvedSecret {
  /** The secret (empty when `source` is `"none"`). */
  secret: string;
  /** `ZMPI_SECRET`, the per-user secret file, or none (a world of size 1 talks to no one). */
  source: "ZMPI_SECRET" | "file" | "none";
}

/** Options of {@link resolveSecret}. */
interface SecretOptions {
  /** Home directory holding `.zmpi/secret` (default `os.homedir()`). */
  home?: string;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException)?.code ?? "");
}

async function readExisting(path: string): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, "r");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw new UsageError(`cannot read zmpi secret file ${path}: ${(err as Error).message}`);
  }
  try {
    // fstat on the opened handle, so the checked file is the one read.
    const st = await handle.stat();
    if (!st.isFile()) throw new UsageError(`zmpi secret file ${path} is not a regular file`);
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw new UsageError(`zmpi secret file ${path} belongs to uid ${st.uid}, not to you`);
    }
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
      throw new UsageError(`zmpi secret file ${path} has mode ${mode}: other users could read it; run "chmod 600 ${path}"`);
    }
    return (await handle.readFile("utf8")).trim();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` holding a fresh random secret unless it exists. The content is written to a
 * private temp file and then hard-linked into place: `link` fails with EEXIST when the target
 * exists (also over NFS, where home directories usually live), so when several ranks race, one
 * wins, the others keep the winner's file, and no one ever reads a half-written file.
 */
async function createIfMissing(path: string): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  await fs.writeFile(tmp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  try {
    await fs.link(tmp, path);
  } catch (err) {
    if (!isErrno(err, "EEXIST")) {
      throw new UsageError(`cannot create zmpi secret file ${path}: ${(err as Error).message}`);
    }
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

/**
 * Finds the secret shared by all ranks of a job:
 *
 * 1. `ZMPI_SECRET` when set (set by `zmpi launch` or the sbatch template); at least
 *    {@link MIN_SECRET_LENGTH} characters.
 * 2. Nothing for a world of size 1 (`method` `"single"`).
 * 3. Otherwise a per-user file, `ZMPI_SECRET_FILE` or `~/.zmpi/secret`, created on first use with
 *    32 random bytes in hex (directory mode 0700, file mode 0600). Ranks on other nodes read the
 *    same file through the shared home directory, which is what makes it a shared secret.
 *
 * @throws UsageError when `ZMPI_SECRET` is too short, or the file is group/world-accessible (the
 *   message names the path and the `chmod 600` fix), not owned by the user, not a regular file,
 *   too short, or cannot be created.
 */
export async function resolveSecret(env: Record<string, string | undefined>, method: LaunchMethod, opts: SecretOptions = {}): Promise<ResolvedSecret> {
  const fromEnv = env.ZMPI_SECRET;
  if (fromEnv !== undefined) {
    // The value itself is never echoed: error messages end up in shared log files.
    if (fromEnv.length < MIN_SECRET_LENGTH) {
      throw new UsageError(`ZMPI_SECRET is ${fromEnv.length} characters long; it must have at least ${MIN_SECRET_LENGTH}`);
    }
    return { secret: fromEnv, source: "ZMPI_SECRET" };
  }
  if (method === "single") return { secret: "", source: "none" };

  const path = env.ZMPI_SECRET_FILE || join(opts.home ?? homedir(), ".zmpi", "secret");
  let secret = await readExisting(path);
  if (secret === null) {
    await createIfMissing(path);
    secret = await readExisting(path);
    if (secret === null) throw new UsageError(`zmpi secret file ${path} vanished right after creation`);
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`zmpi secret file ${path} holds ${secret.length} characters; it needs at least ${MIN_SECRET_LENGTH} (delete it to get a new one)`);
  }
  return { secret, source: "file" };
}

/** Bytes in a job key. */
const JOB_KEY_BYTES = 32;

/**
 * The key one job step authenticates with: HKDF-SHA256 of the secret, salted with a fixed label
 * and bound to the job's identity (`"<job id>.<step id>"`), so two steps of the same user, which
 * share `~/.zmpi/secret`, get unrelated keys, and a key that leaks opens one step only.
 *
 * @example
 * const { secret } = await resolveSecret(process.env, "slurm");
 * const key = deriveJobKey(secret, "4711.0"); // 32 bytes; the same on every rank of step 4711.0
 */
export function deriveJobKey(secret: string, job: string): Buffer {
  if (secret.length === 0) throw new UsageError("a job key needs a secret (none was resolved)");
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret, "utf8"), "zmpi/job-key/v1", `job:${job}`, JOB_KEY_BYTES));
}
