// Preloaded into a server under test (NODE_OPTIONS=--import): each thread writes what it has
// loaded — modules through the ESM loader and Node's built-in modules — to
// `${PETREL_MODULE_PROBE}.<thread id>` every 50 ms, so a test can see what a node loads, and when.
import fs from 'node:fs';
import { registerHooks } from 'node:module';
import { threadId } from 'node:worker_threads';

const out = process.env.PETREL_MODULE_PROBE;
if (out) {
  const loaded = new Set();
  registerHooks({
    load(url, context, nextLoad) {
      loaded.add(url);
      return nextLoad(url, context);
    },
  });
  const write = () => {
    // getBuiltinModule does not pass the loader hooks; Node's own list of loaded built-ins does.
    const builtins = (process.moduleLoadList ?? []).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    fs.writeFileSync(`${out}.${threadId}`, JSON.stringify({ modules: [...loaded], builtins }));
  };
  setInterval(write, 50).unref();
}
