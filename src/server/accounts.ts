// Accounts are separate subject spaces. Each gets a small number, the same in every worker
// because every worker numbers the same options the same way: the global account is 0, then the
// configured accounts in the order the config file names them, then the system account (`$SYS`
// unless `system_account` names another) if the config does not name it — as nats-server, the
// system account always exists, so other servers' `$SYS` interest has somewhere to live.

import type { ServerOptions } from '../config/options.ts';

export const GLOBAL_ACCOUNT = '$G';

export function accountNumbers(options: ServerOptions): Map<string, number> {
  const table = new Map<string, number>([[GLOBAL_ACCOUNT, 0]]);
  for (const name of Object.keys(options.accounts ?? {})) if (!table.has(name)) table.set(name, table.size);
  if (options.systemAccount && !table.has(options.systemAccount)) table.set(options.systemAccount, table.size);
  return table;
}

/**
 * The accounts JetStream serves, as nats-server decides: the global account alone when no
 * accounts are configured; otherwise each account whose block enables it (`jetstream: enabled`,
 * `true`, or a limits block).
 */
export function jetStreamAccounts(options: ServerOptions): string[] {
  if (!options.jetstream.enabled) return [];
  const accounts = options.accounts ?? {};
  const names = Object.keys(accounts);
  if (names.length === 0) return [GLOBAL_ACCOUNT];
  return names.filter((n) => enablesJetStream((accounts[n] as Record<string, unknown> | null | undefined)?.['jetstream']));
}

function enablesJetStream(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return ['enabled', 'enable', 'true'].includes(v.toLowerCase());
  return v !== null && typeof v === 'object';
}
