/** A real cluster with its S3 endpoint, and SDK clients for it. */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { startCluster, type Cluster, type ClusterOptions } from '../helpers/cluster';

export const S3_KEYS = { accessKeyId: 'ringstore-e2e', secretAccessKey: 'e2e-secret-0123456789-abcdefghijklmnopqrst' };

export function startS3Cluster(options: ClusterOptions = {}): Promise<Cluster> {
  return startCluster({ ...options, env: { S3_ACCESS_KEY: S3_KEYS.accessKeyId, S3_SECRET_KEY: S3_KEYS.secretAccessKey, ...options.env } });
}

/** Path-style client of the cluster's first gateway; one attempt, so errors reach the test as they are. */
export function s3Client(cluster: Cluster, config: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: cluster.gateway.s3Url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3_KEYS,
    maxAttempts: 1,
    ...config,
  });
}

/** The S3 error code a rejected SDK call carries (its `name`). */
export async function s3ErrorCode(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return (error as { name: string }).name;
  }
  throw new Error('the call succeeded; an S3 error was expected');
}

/** The HTTP status of a rejected SDK call. */
export async function s3ErrorStatus(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
  } catch (error) {
    return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
  throw new Error('the call succeeded; an S3 error was expected');
}
