// A node's identity in the JetStream cluster: the Raft peer id it has in the meta group and in
// every stream and consumer group, kept in its store directory. nats-server derives the peer id
// from the server name alone (8 characters of its hash); Petrel adds a nonce drawn when the store
// directory is first used, so a node that lost its disk comes back as a new peer instead of
// reusing an id whose votes and log it no longer has (which could elect two leaders in a term).
// A restart with the same directory keeps the id; a rename keeps it too (the data is the node's).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { readFramedFileSync, writeFramedFileSync } from '../../storage/atomic_file.ts';

const IDENTITY_FILE = 'node.id';
const IDENTITY_MAGIC = 'PNID';
/** nats-server's peer ids are 8 characters. */
export const NODE_ID_LENGTH = 8;

export interface NodeIdentity {
  id: string;
  /** The server name when the id was made (informational). */
  name: string;
}

function makeId(serverName: string): string {
  const h = createHash('sha256').update(serverName).update(randomBytes(16)).digest('base64');
  return h.replace(/[^A-Za-z0-9]/g, '').slice(0, NODE_ID_LENGTH);
}

/** Reads the node's identity from `dir`, creating it on first use. */
export function loadNodeIdentity(dir: string, serverName: string): NodeIdentity {
  const file = path.join(dir, IDENTITY_FILE);
  fs.mkdirSync(dir, { recursive: true });
  const raw = readFramedFileSync(file, IDENTITY_MAGIC);
  if (raw !== null) {
    const id = JSON.parse(Buffer.from(raw).toString('utf8')) as NodeIdentity;
    if (typeof id.id === 'string' && id.id.length > 0) return id;
  }
  const id: NodeIdentity = { id: makeId(serverName), name: serverName };
  writeFramedFileSync(file, Buffer.from(JSON.stringify(id)), IDENTITY_MAGIC);
  return id;
}
