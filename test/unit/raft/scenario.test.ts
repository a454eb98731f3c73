// Data-driven scenarios in the spirit of etcd raft's testdata: each file under
// testdata/ is a small script of commands and expectations run against a
// hand-driven TestCluster. A failing expectation names its file and line.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { RaftError } from '../../../src/raft/errors.ts';
import { ConfChangeType } from '../../../src/raft/types.ts';
import { TestCluster } from './cluster.ts';
import type { ClusterOptions } from './cluster.ts';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');

function parseOptions(args: string[]): { ids: string[]; opts: ClusterOptions } {
  const ids: string[] = [];
  const opts: ClusterOptions = {};
  for (const a of args) {
    const [k, v] = a.split('=');
    if (v === undefined) {
      ids.push(a);
      continue;
    }
    switch (k) {
      case 'prevote':
        opts.preVote = v === 'true';
        break;
      case 'checkquorum':
        opts.checkQuorum = v === 'true';
        break;
      case 'forward':
        opts.forwardProposals = v === 'true';
        break;
      case 'maxuncommitted':
        opts.maxUncommittedBytes = Number(v);
        break;
      case 'inflight':
        opts.maxInflightMsgs = Number(v);
        break;
      case 'seed':
        opts.seed = Number(v);
        break;
      default:
        throw new Error(`unknown cluster option ${k}`);
    }
  }
  return { ids, opts };
}

function actual(c: TestCluster, id: string, key: string): string {
  const n = c.node(id);
  if (key.startsWith('kv.')) return n.kv.get(key.slice(3)) ?? '<none>';
  if (key.startsWith('read.')) {
    const rs = n.readStates.find((r) => r.context === key.slice(5));
    return rs ? String(rs.index) : '<none>';
  }
  if (key === 'snapshot') return String(n.storage.snapshot().meta.index);
  if (key === 'up') return String(n.raft !== null);
  const r = c.raft(id);
  switch (key) {
    case 'state':
      return r.state;
    case 'term':
      return String(r.term);
    case 'lead':
      return r.lead === '' ? '<none>' : r.lead;
    case 'commit':
      return String(r.raftLog.committed);
    case 'applied':
      return String(n.kv.applied);
    case 'last':
      return String(r.raftLog.lastIndex());
    case 'voters':
      return r.confState().voters.join(',');
    case 'removed':
      return r.confState().removed.join(',');
    default:
      throw new Error(`unknown expectation key ${key}`);
  }
}

function check(c: TestCluster, id: string, clause: string): string | null {
  const m = /^([\w.-]+)(>=|<=|=|>|<)(.*)$/.exec(clause);
  if (!m) throw new Error(`bad expectation ${clause}`);
  const [, key, op, want] = m as unknown as [string, string, string, string];
  const got = actual(c, id, key);
  let ok: boolean;
  if (op === '=') ok = got === want;
  else {
    const g = Number(got);
    const w = Number(want);
    ok = op === '>=' ? g >= w : op === '<=' ? g <= w : op === '>' ? g > w : g < w;
  }
  return ok ? null : `${id} ${key}: expected ${op}${want}, got ${got}`;
}

function run(c: TestCluster | null, words: string[]): TestCluster | null {
  const [cmd, ...a] = words as [string, ...string[]];
  if (cmd === 'cluster') {
    const { ids, opts } = parseOptions(a);
    return new TestCluster(ids, opts);
  }
  if (!c) throw new Error('first command must be cluster');
  switch (cmd) {
    case 'campaign':
      c.campaign(a[0]!);
      break;
    case 'stabilize':
      c.stabilize();
      break;
    case 'tick':
      c.tick(a[0]!, Number(a[1] ?? 1));
      c.stabilize();
      break;
    case 'tick-all':
      c.tickAll(Number(a[0] ?? 1));
      break;
    case 'tick-until-leader':
      c.electLeader(Number(a[0] ?? 200));
      break;
    case 'propose':
      c.propose(a[0]!, a[1]!, a[2]!);
      break;
    case 'partition': {
      const bar = a.indexOf('|');
      c.partition(a.slice(0, bar), a.slice(bar + 1));
      break;
    }
    case 'isolate':
      c.isolate(a[0]!);
      break;
    case 'cut':
      c.cutOneWay(a[0]!, a[1]!);
      break;
    case 'heal':
      c.heal();
      break;
    case 'crash':
      c.crash(a[0]!);
      break;
    case 'restart':
      c.restart(a[0]!);
      break;
    case 'compact':
      c.compact(a[0]!, Number(a[1] ?? 0));
      break;
    case 'add-node':
      // add-node <new> via <leader>
      c.raft(a[2]!).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: a[0]! });
      c.process(a[2]!);
      if (!c.nodes.has(a[0]!)) c.addNode(a[0]!);
      break;
    case 'remove-node':
      c.raft(a[2]!).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: a[0]! });
      c.process(a[2]!);
      break;
    case 'transfer':
      c.raft(a[0]!).transferLeader(a[1]!);
      c.process(a[0]!);
      break;
    case 'read':
      c.raft(a[0]!).readIndex(a[1]!);
      c.process(a[0]!);
      break;
    case 'expect': {
      const errs = a.slice(1).map((cl) => check(c, a[0]!, cl)).filter((e) => e !== null);
      if (errs.length > 0) throw new Error(errs.join('; '));
      break;
    }
    case 'expect-leader': {
      const l = c.leader();
      if (l !== a[0]) throw new Error(`expected leader ${a[0]}, got ${l ?? '<none>'}`);
      break;
    }
    case 'expect-one-leader': {
      const leaders = [...c.nodes.values()].filter((n) => n.raft?.isLeader).map((n) => n.id);
      if (leaders.length !== 1) throw new Error(`expected exactly one leader, got [${leaders.join(',')}]`);
      break;
    }
    case 'fails': {
      // fails <CODE> <command...>
      try {
        run(c, a.slice(1));
      } catch (e) {
        if (e instanceof RaftError && e.code === a[0]) break;
        throw new Error(`expected ${a[0]}, got ${(e as Error).message}`);
      }
      throw new Error(`expected ${a[0]}, but the command succeeded`);
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
  return c;
}

describe('raft scenarios (testdata/*.txt)', () => {
  for (const file of fs.readdirSync(TESTDATA).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const lines = fs.readFileSync(path.join(TESTDATA, file), 'utf8').split('\n');
      let c: TestCluster | null = null;
      lines.forEach((raw, i) => {
        const line = raw.replace(/#.*/, '').trim();
        if (line === '') return;
        try {
          c = run(c, line.split(/\s+/));
        } catch (e) {
          throw new Error(`${file}:${i + 1}: ${line}\n  ${(e as Error).message}`);
        }
      });
    });
  }
});
