/** What a call throws, for tests of code that answers bad input with an S3Error. */
import { S3Error } from '../../src/s3/errors';

/** The S3Error `fn` throws; fails the test when it returns, rethrows anything else. */
export function s3ErrorOf(fn: () => unknown): S3Error {
  try {
    fn();
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  throw new Error('expected an S3Error, nothing was thrown');
}

/** The code of the S3Error `fn` throws, or 'ok' when it returns. */
export function s3CodeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof S3Error) return error.code;
    throw error;
  }
  return 'ok';
}
