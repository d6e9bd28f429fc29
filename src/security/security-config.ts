import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError, envList, envOptionalString } from '../util/env';

type Env = Record<string, string | undefined>;

export interface CertificateAndKey {
  cert: Buffer;
  key: Buffer;
}

export interface SecurityConfig {
  /** API_TOKENS: any of them opens /files; empty = /files is open. */
  apiTokens: string[];
  /** ADMIN_TOKEN: guards /metrics and /admin*; undefined = open. */
  adminToken?: string;
  /** CLUSTER_TOKEN: storage servers refuse gRPC calls and the gateway refuses joins without it. */
  clusterToken?: string;
  /** GRPC_TLS_CERT + GRPC_TLS_KEY: the storage server's own certificate (serves TLS). */
  grpcServerCert?: CertificateAndKey;
  /** GRPC_TLS_CA: a storage server requires client certificates signed by it; clients verify servers with it. */
  grpcCa?: Buffer;
  /** GRPC_TLS_CLIENT_CERT + GRPC_TLS_CLIENT_KEY: the certificate a gRPC client presents (mutual TLS). */
  grpcClientCert?: CertificateAndKey;
  /** GATEWAY_TLS_CERT + GATEWAY_TLS_KEY: the gateway serves HTTPS. */
  gatewayCert?: CertificateAndKey;
}

/**
 * Tokens and TLS files from the environment. Every file is read and parsed now, so a missing,
 * unreadable or mismatched file fails at start with a ConfigError naming the variable.
 */
export function loadSecurityConfig(env: Env = process.env): SecurityConfig {
  const grpcCa = envOptionalString(env, 'GRPC_TLS_CA');
  return {
    apiTokens: envList(env, 'API_TOKENS').map((token, i) => checkToken(token, `API_TOKENS (entry ${i + 1})`)),
    adminToken: optionalToken(env, 'ADMIN_TOKEN'),
    clusterToken: optionalToken(env, 'CLUSTER_TOKEN'),
    grpcServerCert: certificatePair(env, 'GRPC_TLS_CERT', 'GRPC_TLS_KEY'),
    grpcCa: grpcCa === undefined ? undefined : readCertificate(grpcCa, 'GRPC_TLS_CA').pem,
    grpcClientCert: certificatePair(env, 'GRPC_TLS_CLIENT_CERT', 'GRPC_TLS_CLIENT_KEY'),
    gatewayCert: certificatePair(env, 'GATEWAY_TLS_CERT', 'GATEWAY_TLS_KEY'),
  };
}

function optionalToken(env: Env, name: string): string | undefined {
  const token = envOptionalString(env, name);
  return token === undefined ? undefined : checkToken(token, name);
}

/** A token must fit an HTTP header and gRPC metadata as is. The message never shows the token. */
function checkToken(token: string, name: string): string {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(`${name} may only contain visible ASCII characters (no spaces), e.g. the output of "openssl rand -hex 32"`);
  }
  return token;
}

function certificatePair(env: Env, certName: string, keyName: string): CertificateAndKey | undefined {
  const certPath = envOptionalString(env, certName);
  const keyPath = envOptionalString(env, keyName);
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined) throw new ConfigError(`${keyName} is set but ${certName} is not: a key needs its certificate`);
  if (keyPath === undefined) throw new ConfigError(`${certName} is set but ${keyName} is not: a certificate needs its private key`);
  const cert = readCertificate(certPath, certName);
  const keyPem = readFile(keyPath, keyName);
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new ConfigError(`${keyName} ("${keyPath}") is not a PEM private key: ${(error as Error).message}`);
  }
  if (!cert.parsed.checkPrivateKey(key)) {
    throw new ConfigError(`${keyName} ("${keyPath}") is not the private key of ${certName} ("${certPath}")`);
  }
  return { cert: cert.pem, key: keyPem };
}

function readCertificate(filePath: string, name: string): { pem: Buffer; parsed: X509Certificate } {
  const pem = readFile(filePath, name);
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(pem);
  } catch (error) {
    throw new ConfigError(`${name} ("${filePath}") is not a PEM certificate: ${(error as Error).message}`);
  }
  if (Date.parse(parsed.validTo) < Date.now()) {
    throw new ConfigError(`${name} ("${filePath}") expired on ${parsed.validTo}`);
  }
  return { pem, parsed };
}

function readFile(filePath: string, name: string): Buffer {
  try {
    return fs.readFileSync(filePath);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError(`${name}: cannot read "${filePath}": ${reason}`);
  }
}
