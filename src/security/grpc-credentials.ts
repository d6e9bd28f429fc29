import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../config/env';
import type { SecurityConfig } from './security-config';

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

/**
 * Credentials for dialing storage servers: TLS when GRPC_TLS_CA (the CA that signed the
 * servers' certificates; the system roots otherwise) or a client certificate is configured,
 * presenting GRPC_TLS_CLIENT_CERT/KEY when set. Insecure when none is set.
 */
export function grpcChannelCredentials(config: SecurityConfig): grpc.ChannelCredentials {
  if (!config.grpcCa && !config.grpcClientCert) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(config.grpcCa ?? null, config.grpcClientCert?.key ?? null, config.grpcClientCert?.cert ?? null);
}

/** Per-call metadata carrying CLUSTER_TOKEN, for StorageClient / createConnectionPool; undefined without a token. */
export function clusterCallMetadata(config: SecurityConfig): (() => grpc.Metadata) | undefined {
  const token = config.clusterToken;
  if (token === undefined) return undefined;
  return () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  };
}
