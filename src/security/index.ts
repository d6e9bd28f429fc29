/** Security: tokens, HTTP guards, gRPC credentials and the storage server's token check. */
export {
  parseBearerToken,
  parseBasicPassword,
  createBearerVerifier,
  createTokenVerifier,
  type TokenExtractor,
  type TokenVerdict,
} from './tokens';
export { loadSecurityConfig, type SecurityConfig, type CertificateAndKey } from './security-config';
export {
  requireAnyToken,
  requireApiToken,
  requireToken,
  createGatewayAuth,
  type GatewayAuth,
  type HttpAuthOptions,
  type GuardOptions,
} from './http-auth';
export {
  grpcServerCredentials,
  grpcChannelCredentials,
  grpcServerTransport,
  clusterCallMetadata,
  type GrpcTransport,
} from './grpc-credentials';
export { requireClusterToken } from './grpc-auth';
export { createGatewayServer } from './https-server';
