import { DomainError } from '../util/domain-error';

/** No storage server has that id or address. */
export class UnknownServerError extends DomainError {
  readonly kind = 'not_found';
}

/**
 * A membership change that does not fit the server as it is: draining a removed server,
 * removing one that still holds chunks, a heartbeat from a server taken out of the cluster.
 */
export class MembershipError extends DomainError {
  readonly kind = 'conflict';
}
