// Object store buckets through the official clients (v2 `js.views.os`, v3 `Objm`): `OBJ_<bucket>`
// streams with chunk subjects and rolled-up meta, multi-chunk put/get with the SHA-256 digest
// the clients check, list, info, delete, links and watch.
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { ObjectStore, ObjectWatchInfo } from '@nats-io/obj';
import type { RunningServer } from '../../support/server.ts';
import { jsMatrix } from './js_clients.ts';
import { onSharedJsServer, SharedServers, uniqueName, within } from './js_util.ts';

const servers = new SharedServers();
afterAll(() => servers.stopAll());

const KIB = 1024;
const OBJECT_BYTES = 1024 * KIB;
const CHUNK_BYTES = 128 * KIB;

/** Deterministic bytes (xorshift32), so a failure reproduces with the same object. */
function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The digest the clients write and check: `SHA-256=` + padded base64url. */
function clientDigest(data: Uint8Array): string {
  const b64 = createHash('sha256').update(data).digest('base64');
  return `SHA-256=${b64.replace(/\+/g, '-').replace(/\//g, '_')}`;
}

function streamOf(data: Uint8Array, pieceBytes: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (off >= data.length) return controller.close();
      controller.enqueue(data.subarray(off, off + pieceBytes));
      off += pieceBytes;
    },
  });
}

async function readAll(rs: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of rs as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

for (const { gen, workers } of jsMatrix()) {
  describe(`object store — ${gen.name}, workers: ${workers}`, () => {
    let srv: RunningServer;
    const pool = onSharedJsServer(servers, gen, workers, (s) => (srv = s));

    const bucket = async () => {
      const nc = await pool.connect({ servers: srv.url });
      const name = uniqueName('os');
      const os: ObjectStore = await gen.os(nc, name);
      return { nc, os, name, jsm: await gen.jsm(nc) };
    };

    it('puts and gets a multi-chunk object with its digest checked', async () => {
      const { os, name, jsm } = await bucket();
      const data = seededBytes(OBJECT_BYTES, 0xc0ffee);
      const info = await os.put({ name: 'big.bin', options: { max_chunk_size: CHUNK_BYTES } }, streamOf(data, 100 * KIB));
      expect(info).toMatchObject({ name: 'big.bin', bucket: name, size: OBJECT_BYTES, chunks: OBJECT_BYTES / CHUNK_BYTES, deleted: false });
      expect(info.digest).toBe(clientDigest(data));

      const si = await jsm.streams.info(`OBJ_${name}`);
      expect(si.config.subjects).toEqual([`$O.${name}.C.>`, `$O.${name}.M.>`]);
      // Every chunk plus the one meta record.
      expect(si.state.messages).toBe(OBJECT_BYTES / CHUNK_BYTES + 1);

      const res = await os.get('big.bin');
      expect(res).not.toBeNull();
      const back = await readAll(res!.data);
      // The client resolves `error` empty once the digest matched.
      expect(await res!.error).toBeFalsy();
      expect(back.length).toBe(OBJECT_BYTES);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0);
      expect(res!.info.digest).toBe(clientDigest(data));
      await os.destroy();
    });

    it('lists, describes and deletes objects, and small objects round-trip as blobs', async () => {
      const { os, name, jsm } = await bucket();
      await os.putBlob({ name: 'a.txt', description: 'first' }, new TextEncoder().encode('alpha'));
      await os.putBlob({ name: 'b.txt' }, seededBytes(3 * KIB, 7));
      await os.putBlob({ name: 'empty' }, new Uint8Array(0));
      expect((await os.list()).map((o) => o.name).sort()).toEqual(['a.txt', 'b.txt', 'empty']);

      const a = await os.info('a.txt');
      expect(a).toMatchObject({ name: 'a.txt', description: 'first', size: 5, chunks: 1 });
      expect(new TextDecoder().decode((await os.getBlob('a.txt'))!)).toBe('alpha');
      expect((await os.getBlob('empty'))!.length).toBe(0);
      expect(await os.info('nope')).toBeNull();

      await os.delete('b.txt');
      expect(await os.get('b.txt')).toBeNull();
      expect((await os.list()).map((o) => o.name).sort()).toEqual(['a.txt', 'empty']);
      // b's chunk is purged; only meta records and a's chunk remain.
      const si = await jsm.streams.info(`OBJ_${name}`);
      expect(si.state.messages).toBe(4);
      const st = await os.status();
      expect(st.bucket).toBe(name);
      await os.destroy();
    });

    it('follows a link to another object', async () => {
      const { os } = await bucket();
      const target = await os.putBlob({ name: 'target' }, new TextEncoder().encode('linked content'));
      const link = await os.link('alias', target);
      expect(link.options?.link).toMatchObject({ name: 'target' });
      const res = await os.get('alias');
      expect(new TextDecoder().decode(await readAll(res!.data))).toBe('linked content');
      await os.destroy();
    });

    it('watches puts and deletes, with existing objects when includeHistory', async () => {
      const { os } = await bucket();
      await os.putBlob({ name: 'old' }, new TextEncoder().encode('1'));
      const seen: ObjectWatchInfo[] = [];
      const withHistory = await os.watch({ includeHistory: true });
      const updates = await os.watch();
      const hIter = withHistory[Symbol.asyncIterator]();
      const uIter = updates[Symbol.asyncIterator]();

      // v2 marks the end of the existing objects with a null entry; skip such markers.
      const next = async (iter: AsyncIterator<ObjectWatchInfo | null>, label: string): Promise<ObjectWatchInfo> => {
        for (;;) {
          const r = await within(iter.next(), label);
          if (r.done) throw new Error(`watch ended: ${label}`);
          if (r.value !== null) return r.value;
        }
      };
      expect(await next(hIter, 'existing object')).toMatchObject({ name: 'old', deleted: false });
      await os.putBlob({ name: 'new' }, new TextEncoder().encode('2'));
      await os.delete('old');
      for (let i = 0; i < 2; i++) seen.push(await next(uIter, `update ${i}`));
      expect(seen.map((o) => [o.name, o.deleted])).toEqual([
        ['new', false],
        ['old', true],
      ]);
      expect(await next(hIter, 'history watcher sees the put too')).toMatchObject({ name: 'new' });
      withHistory.stop();
      updates.stop();
      await os.destroy();
    });
  });
}
