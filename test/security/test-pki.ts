import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** File paths of a throwaway PKI made with the openssl CLI. */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from an unrelated CA: mutual TLS must refuse it. */
  rogueClientCert: string;
  rogueClientKey: string;
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost and client certificates (one from the CA,
 * one from a rogue CA), all EC P-256 and valid for a day, written to dir.
 */
export function makeTestPki(dir: string): TestPki {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const makeCa = (name: string): void => {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  const issue = (name: string, ca: string, extensions: string): void => {
    fs.writeFileSync(file(`${name}.ext`), extensions);
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
      '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`),
      '-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`));
  };
  makeCa('ca');
  makeCa('rogue-ca');
  issue('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    rogueClientCert: file('rogue-client.crt'),
    rogueClientKey: file('rogue-client.key'),
  };
}
