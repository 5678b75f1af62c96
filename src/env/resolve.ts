/** Host name → IPv4 address, for binding and connecting. */

import { promises as dns } from "node:dns";
import { isIPv4 } from "node:net";
import { UsageError } from "../errors.js";

/**
 * Resolves a host name to one IPv4 address with the system resolver (`/etc/hosts`, then DNS),
 * as `dns.lookup` does; an IPv4 literal is returned as is. IPv4 only, because the coordinator
 * address is shared between ranks and a node with both families must give every peer the
 * same answer. On slurm-local, `n1` resolves to `127.0.2.1`.
 *
 * @throws UsageError naming the host when it does not resolve to an IPv4 address.
 */
export async function resolveHostAddress(name: string): Promise<string> {
  if (isIPv4(name)) return name;
  // dns.lookup("") answers with a loopback address, which would silently hide a missing name.
  if (name.trim() === "") throw new UsageError("cannot resolve an empty host name");
  try {
    const { address } = await dns.lookup(name, { family: 4 });
    return address;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`cannot resolve host "${name}" to an IPv4 address (${code})`);
  }
}
