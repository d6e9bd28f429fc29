import fs from 'node:fs';
import { ConfigError } from '../../src/util/env';
import { clusterCallMetadata } from '../../src/connection/channel-credentials';
import { loadSecurityConfig } from '../../src/security';
import { grpcServerCredentials, grpcServerTransport } from '../../src/storage/grpc-credentials';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { makeTestPki, type TestPki } from './test-pki';
import { describeIfFound, toolOrSkip, TOOLS } from '../helpers/tools';

// Throwaway certificates are made with the openssl CLI.
const OPENSSL = toolOrSkip(TOOLS.openssl, 'test/security/security-config.test.ts');

describeIfFound(OPENSSL)('loadSecurityConfig', () => {
  let pki: TestPki;
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir('ringstore-security-config-');
    pki = makeTestPki(dir);
  });
  afterAll(removeTempDirs);

  it('is all open with nothing set', () => {
    const config = loadSecurityConfig({});
    expect(config).toEqual({ apiTokens: [] });
    expect(grpcServerTransport(config)).toBe('insecure');
    expect(clusterCallMetadata(config)).toBeUndefined();
  });

  it('reads tokens and TLS files', () => {
    const config = loadSecurityConfig({
      API_TOKENS: ' one-token, two-token ,,', ADMIN_TOKEN: 'admin-token', CLUSTER_TOKEN: 'cluster-token',
      GRPC_TLS_CERT: pki.serverCert, GRPC_TLS_KEY: pki.serverKey, GRPC_TLS_CA: pki.caCert,
      GRPC_TLS_CLIENT_CERT: pki.clientCert, GRPC_TLS_CLIENT_KEY: pki.clientKey,
      GATEWAY_TLS_CERT: pki.serverCert, GATEWAY_TLS_KEY: pki.serverKey,
    });
    expect(config.apiTokens).toEqual(['one-token', 'two-token']);
    expect(config.adminToken).toBe('admin-token');
    expect(config.grpcServerCert?.cert.equals(fs.readFileSync(pki.serverCert))).toBe(true);
    expect(config.gatewayCert?.key.equals(fs.readFileSync(pki.serverKey))).toBe(true);
    expect(grpcServerTransport(config)).toBe('mutual-tls');
    expect(clusterCallMetadata(config)?.().get('authorization')).toEqual(['Bearer cluster-token']);
  });

  it.each([
    ['GRPC_TLS_CERT', () => ({ GRPC_TLS_CERT: '/nonexistent/server.crt', GRPC_TLS_KEY: pki.serverKey }), /GRPC_TLS_CERT: cannot read "\/nonexistent\/server.crt": no such file/],
    ['GRPC_TLS_KEY', () => ({ GRPC_TLS_CERT: pki.serverCert }), /GRPC_TLS_CERT is set but GRPC_TLS_KEY is not/],
    ['GRPC_TLS_CERT', () => ({ GRPC_TLS_KEY: pki.serverKey }), /GRPC_TLS_KEY is set but GRPC_TLS_CERT is not/],
    ['GRPC_TLS_KEY', () => ({ GRPC_TLS_CERT: pki.serverCert, GRPC_TLS_KEY: pki.clientKey }), /GRPC_TLS_KEY .* is not the private key of GRPC_TLS_CERT/],
    ['GRPC_TLS_CA', () => ({ GRPC_TLS_CA: pki.serverKey }), /GRPC_TLS_CA .* is not a PEM certificate/],
    ['GRPC_TLS_CLIENT_KEY', () => ({ GRPC_TLS_CLIENT_CERT: pki.clientCert, GRPC_TLS_CLIENT_KEY: pki.caCert }), /GRPC_TLS_CLIENT_KEY .* is not a PEM private key/],
    ['GATEWAY_TLS_KEY', () => ({ GATEWAY_TLS_CERT: pki.serverCert }), /GATEWAY_TLS_CERT is set but GATEWAY_TLS_KEY is not/],
    ['ADMIN_TOKEN', () => ({ ADMIN_TOKEN: 'has\u0001control' }), /^ADMIN_TOKEN may only contain visible ASCII/],
    ['API_TOKENS', () => ({ API_TOKENS: 'fine, not fine' }), /^API_TOKENS \(entry 2\) may only contain/],
  ])('names %s in a one-line ConfigError', (_name, env, message) => {
    const attempt = (): unknown => loadSecurityConfig(env());
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });

  it('never puts a token in an error message', () => {
    expect(() => loadSecurityConfig({ CLUSTER_TOKEN: 'secret\u0007value' })).toThrow(/^((?!secret).)*$/);
  });

  it('refuses a path that cannot be read as a file', () => {
    expect(() => loadSecurityConfig({ GRPC_TLS_CA: dir })).toThrow(/GRPC_TLS_CA: cannot read .*EISDIR/);
  });

  it('refuses a storage server that should check client certificates but has no certificate of its own', () => {
    expect(() => grpcServerCredentials(loadSecurityConfig({ GRPC_TLS_CA: pki.caCert }))).toThrow(/GRPC_TLS_CA is set but GRPC_TLS_CERT/);
  });
});
