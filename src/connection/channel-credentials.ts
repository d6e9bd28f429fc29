import * as grpc from '@grpc/grpc-js';
import type { SecurityConfig } from '../security/security-config';

/**
 * Credentials for dialing storage servers: TLS when GRPC_TLS_CA (the CA that signed the
 * servers' certificates; the system roots otherwise) or a client certificate is configured,
 * presenting GRPC_TLS_CLIENT_CERT/KEY when set. Insecure when none is set.
 */
export function grpcChannelCredentials(config: SecurityConfig): grpc.ChannelCredentials {
  if (!config.grpcCa && !config.grpcClientCert) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(config.grpcCa ?? null, config.grpcClientCert?.key ?? null, config.grpcClientCert?.cert ?? null);
}

/** Per-call metadata carrying CLUSTER_TOKEN, for StorageClient and the dialer; undefined without a token. */
export function clusterCallMetadata(config: SecurityConfig): (() => grpc.Metadata) | undefined {
  const token = config.clusterToken;
  if (token === undefined) return undefined;
  return () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  };
}
