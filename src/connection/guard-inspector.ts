import type { InspectionEvent, Observer } from 'xstate';
import { errorMessage } from '../util/error-message';
import type { Logger } from '../util/logger';

export type InspectObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/**
 * XState lets an exception thrown by an inspect observer error the actor being inspected; a
 * dashboard bug must never take connections down, so every call is caught and logged once.
 */
export function guardInspector(inspect: InspectObserver, logger: Pick<Logger, 'warn'>): (event: InspectionEvent) => void {
  const next = typeof inspect === 'function' ? inspect : (event: InspectionEvent) => inspect.next?.(event);
  let warned = false;
  return (event) => {
    try {
      next(event);
    } catch (error) {
      if (warned) return;
      warned = true;
      logger.warn(`Inspect observer threw, ignoring it: ${errorMessage(error)}`);
    }
  };
}
