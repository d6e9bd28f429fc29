import { bitflipFault } from './bitflip';
import { diskfullFault } from './diskfull';
import { drainFault } from './drain';
import type { Fault } from './fault';
import { gatewayFault } from './gateway';
import { killFault } from './kill';
import { pgliteFault } from './pglite';
import { postgresFault } from './postgres';
import { rollingFault } from './rolling';
import { stopFault } from './stop';

export type { Fault, FaultContext } from './fault';

export const FAULTS: Fault[] = [killFault, stopFault, rollingFault, gatewayFault, postgresFault, pgliteFault, bitflipFault, diskfullFault, drainFault];

/** Faults that lose a storage server only: with R=2 these must cost zero failed client requests. */
export const STORAGE_FAULTS = new Set(['kill', 'stop', 'rolling', 'bitflip', 'diskfull', 'drain']);

/** A scenario is one fault's name, `mixed` (all of them), or a comma-separated list. */
export function faultsOf(scenario: string): Fault[] {
  const names = scenario === 'mixed' ? FAULTS.map((f) => f.name) : scenario.split(',').map((s) => s.trim());
  return names.map((name) => {
    const fault = FAULTS.find((f) => f.name === name);
    if (!fault) throw new Error(`unknown scenario "${name}"; scenarios: ${FAULTS.map((f) => f.name).join(', ')}, mixed, or a comma-separated list`);
    return fault;
  });
}
