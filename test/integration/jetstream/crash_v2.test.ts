// The SIGKILL crash test (crash_scenario.ts) with the v2 client, for one and two routing
// workers side by side (each case has its own server and store). Seeds are fixed so a failure
// reproduces; the failure message names the seed and the phase.
import { describe, it } from 'vitest';
import { jsV2 } from './js_clients.ts';
import { CRASH_TEST_TIMEOUT_MS, runCrashScenario } from './crash_scenario.ts';

describe.concurrent('crash — ' + jsV2.name, () => {
  for (const workers of [1, 2]) {
    const seed = 0x5eed + workers * 0x100;
    // Bounded by design (three rounds, fixed retry bounds); the generous timeout is for loaded boxes.
    it(`keeps every acked message exactly once across SIGKILLs — workers: ${workers}, seed ${seed}`, { timeout: CRASH_TEST_TIMEOUT_MS }, () =>
      runCrashScenario(jsV2, workers, seed));
  }
});
