import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../util/logger';
import { createBearerVerifier, type TokenVerdict } from '../security/tokens';

/**
 * The standard health service stays open so orchestrator probes (grpc_health_probe, Kubernetes
 * gRPC probes), which cannot send a token, keep working. It tells only SERVING / NOT_SERVING;
 * StorageService.HealthCheck (disk figures, server id) stays guarded.
 */
const OPEN_SERVICE_PREFIX = '/grpc.health.v1.Health/';

/**
 * A server interceptor that ends every call without `authorization: Bearer <token>` metadata
 * matching the cluster token with UNAUTHENTICATED, before the handler sees any message.
 */
export function requireClusterToken(token: string, logger: Logger): grpc.ServerInterceptor {
  const verify = createBearerVerifier([token]);
  return (method, call) => {
    if (method.path.startsWith(OPEN_SERVICE_PREFIX)) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const verdict = verdictOf(metadata.get('authorization'), verify);
            if (verdict === 'ok') {
              pass(metadata);
              return;
            }
            const details = verdict === 'missing'
              ? 'this storage server requires the cluster token: send metadata "authorization: Bearer <CLUSTER_TOKEN>"'
              : 'the cluster token sent does not match this storage server\'s CLUSTER_TOKEN';
            logger.warn(`Refused ${method.path} from ${call.getPeer()}: ${verdict} cluster token`, {
              event: 'rpc_unauthenticated', rpc: method.path, peer: call.getPeer(), verdict,
            });
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details, metadata: new grpc.Metadata() });
          },
        }),
    });
  };
}

/** Exactly one text `authorization` value is judged; several (or a binary one) is never accepted. */
function verdictOf(values: grpc.MetadataValue[], verify: (authorization: string) => TokenVerdict): TokenVerdict {
  if (values.length === 0) return 'missing';
  return values.length === 1 && typeof values[0] === 'string' ? verify(values[0]) : 'wrong';
}
