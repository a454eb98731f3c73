// Accounts are separate subject spaces. Each gets a small number, the same in every worker
// because every worker numbers the same options the same way: the global account is 0, then the
// configured accounts in the order the config file names them.

import type { ServerOptions } from '../config/options.ts';

export const GLOBAL_ACCOUNT = '$G';

export function accountNumbers(options: ServerOptions): Map<string, number> {
  const table = new Map<string, number>([[GLOBAL_ACCOUNT, 0]]);
  for (const name of Object.keys(options.accounts ?? {})) if (!table.has(name)) table.set(name, table.size);
  return table;
}
