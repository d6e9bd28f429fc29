import { envInt, envOptionalString, envString, ConfigError } from '../util/env';

export interface S3Config {
  /** S3_PORT: the S3 endpoint's own listener (0: any free port). */
  port: number;
  /** S3_DOMAIN: with it, `bucket.<domain>` in Host names the bucket (virtual-hosted style). */
  domain?: string;
  /** S3_REGION: what GetBucketLocation and HeadBucket report; requests signed for any region are accepted. */
  region: string;
  /** S3_MULTIPART_MAX_AGE_MS: an unfinished multipart upload older than this is aborted by cleanup. */
  multipartMaxAgeMs: number;
}

export function loadS3Config(env: NodeJS.ProcessEnv): S3Config {
  const domain = envOptionalString(env, 'S3_DOMAIN')?.toLowerCase();
  if (domain !== undefined && !/^[a-z0-9.-]+$/.test(domain)) throw new ConfigError('S3_DOMAIN must be a host name, such as s3.example.com');
  return {
    port: envInt(env, 'S3_PORT', 9000, { min: 0, max: 65535 }),
    domain,
    region: envString(env, 'S3_REGION', 'us-east-1'),
    multipartMaxAgeMs: envInt(env, 'S3_MULTIPART_MAX_AGE_MS', 7 * 24 * 3_600_000, { min: 1000 }),
  };
}
