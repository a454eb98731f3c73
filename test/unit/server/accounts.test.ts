// Which accounts JetStream serves, from the options, as nats-server decides it.
import { describe, expect, it } from 'vitest';
import { jetStreamAccounts } from '../../../src/server/accounts.ts';
import type { ServerOptions } from '../../../src/config/options.ts';

const opts = (enabled: boolean, accounts?: Record<string, unknown>) =>
  ({ jetstream: { enabled, storeDir: '', maxMemoryStore: -1, maxFileStore: -1, syncIntervalMs: 0 }, accounts }) as unknown as ServerOptions;

describe('jetStreamAccounts', () => {
  it('serves the global account alone when no accounts are configured, nothing when off', () => {
    expect(jetStreamAccounts(opts(true))).toEqual(['$G']);
    expect(jetStreamAccounts(opts(true, {}))).toEqual(['$G']);
    expect(jetStreamAccounts(opts(false))).toEqual([]);
    expect(jetStreamAccounts(opts(false, { A: { jetstream: 'enabled' } }))).toEqual([]);
  });

  it('serves the configured accounts that enable it, in config order', () => {
    const accounts = {
      A: { jetstream: 'enabled' },
      B: { jetstream: 'disabled' },
      C: { jetstream: true },
      D: { jetstream: false },
      E: { jetstream: { max_file: 1024 } },
      F: { users: [] },
      G: null,
      H: { jetstream: 'ENABLED' },
    };
    expect(jetStreamAccounts(opts(true, accounts))).toEqual(['A', 'C', 'E', 'H']);
  });
});
