// Throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate, and a second CA whose client certificate the
// server must not trust. EC P-256 keys keep generation fast.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A server's certificate for routes: both server and client use (a cluster node is both). */
  nodeCert: string;
  nodeKey: string;
  /** Signed by an unrelated CA. */
  rogueClientCert: string;
  rogueClientKey: string;
}

/** Certificates only need to outlive the test run. */
const VALIDITY_DAYS = '2';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

function newKeyArgs(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  openssl(dir, [
    'req', '-x509', ...newKeyArgs(key), '-out', cert, '-days', VALIDITY_DAYS, '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, extensions);
  openssl(dir, ['req', '-new', ...newKeyArgs(key), '-out', csr, '-subj', `/CN=${name}`]);
  openssl(dir, [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', cert, '-days', VALIDITY_DAYS, '-extfile', ext,
  ]);
  return { cert, key };
}

export function makeTestPki(dir: string): TestPki {
  const ca = makeCa(dir, 'ca');
  const server = makeLeaf(dir, 'server', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const client = makeLeaf(dir, 'client', ca, 'extendedKeyUsage=clientAuth\n');
  const node = makeLeaf(dir, 'node', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  const rogueCa = makeCa(dir, 'rogue-ca');
  const rogue = makeLeaf(dir, 'rogue-client', rogueCa, 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caFile: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    nodeCert: node.cert,
    nodeKey: node.key,
    rogueClientCert: rogue.cert,
    rogueClientKey: rogue.key,
  };
}

/** The `tls {}` block for a server using this PKI. */
export function tlsBlock(pki: TestPki, extra = ''): string {
  return `tls {
  cert_file: "${pki.serverCert}"
  key_file: "${pki.serverKey}"
  ca_file: "${pki.caFile}"
  ${extra}
}`;
}
