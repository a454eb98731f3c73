// piscina task: compare a password with a bcrypt hash away from the event loop. bcrypt costs
// tens of milliseconds by design, so doing it on a routing thread would stall every
// connection that thread owns.

import { compareSync } from 'bcryptjs';

export interface BcryptTask {
  password: string;
  hash: string;
}

export default function compareBcrypt(task: BcryptTask): boolean {
  return compareSync(task.password, task.hash);
}
