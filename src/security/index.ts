/**
 * Security settings both processes share: the configuration (tokens, TLS files) and token
 * checks. What only one side needs lives with it: HTTP guards and HTTPS in src/http, channel
 * credentials in src/connection, the storage server's credentials and token check in src/storage.
 */
export {
  parseBearerToken,
  parseBasicPassword,
  createBearerVerifier,
  createTokenVerifier,
  type TokenExtractor,
  type TokenVerdict,
} from './tokens';
export { loadSecurityConfig, type SecurityConfig, type CertificateAndKey } from './security-config';
