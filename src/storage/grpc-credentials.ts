import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../util/env';
import type { SecurityConfig } from '../security/security-config';

export type GrpcTransport = 'insecure' | 'tls' | 'mutual-tls';

/** How a storage server with this config serves gRPC. */
export function grpcServerTransport(config: SecurityConfig): GrpcTransport {
  if (!config.grpcServerCert) return 'insecure';
  return config.grpcCa ? 'mutual-tls' : 'tls';
}

/**
 * Storage server credentials: TLS with GRPC_TLS_CERT/KEY; with GRPC_TLS_CA as well, clients
 * must present a certificate signed by that CA (mutual TLS). Insecure when none is set.
 */
export function grpcServerCredentials(config: SecurityConfig): grpc.ServerCredentials {
  if (!config.grpcServerCert) {
    if (config.grpcCa) {
      throw new ConfigError('GRPC_TLS_CA is set but GRPC_TLS_CERT and GRPC_TLS_KEY are not: a storage server needs its own certificate to require client certificates');
    }
    return grpc.ServerCredentials.createInsecure();
  }
  const { cert, key } = config.grpcServerCert;
  return grpc.ServerCredentials.createSsl(config.grpcCa ?? null, [{ cert_chain: cert, private_key: key }], config.grpcCa !== undefined);
}
