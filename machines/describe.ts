import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { breakerMachine } from './breaker';
import { connectionMachine } from './connection';
import { serverMachine } from './server';
import { SUPERVISOR_RULES_BY_EVENT } from './supervisor';

export interface MachineDescription {
  initial: string;
  states: string[];
  transitions: Array<{ from: string; to: string; event: string }>;
  /** What each event does, where a rule says more than the transition (the supervisor's). */
  rules?: Array<{ event: string; rule: string }>;
}

/** Every machine of the connection layer, for GET /admin/machines. */
export function describeConnectionLayer(): Record<'supervisor' | 'server' | 'connection' | 'breaker', MachineDescription> {
  return {
    supervisor: describeSupervisor(),
    server: describeMachine(serverMachine),
    connection: describeMachine(connectionMachine),
    breaker: describeMachine(breakerMachine),
  };
}

/**
 * The supervisor is custom actor logic with no states of its own (machines/supervisor.ts): one
 * state, every event a self-loop, and the rules each event applies server by server.
 */
export function describeSupervisor(): MachineDescription {
  const events = Object.keys(SUPERVISOR_RULES_BY_EVENT) as Array<keyof typeof SUPERVISOR_RULES_BY_EVENT>;
  return {
    initial: 'active',
    states: ['active'],
    transitions: events.map((event) => ({ from: 'active', to: 'active', event })),
    rules: events.flatMap((event) => SUPERVISOR_RULES_BY_EVENT[event].map((rule) => ({ event, rule }))),
  };
}

/**
 * A flat picture of a machine for the dashboard: its top-level states and every transition
 * (targetless ones as self-loops), `after` timers named by their delay. A machine without states
 * (the server machine: it routes events and mirrors its children) is one state named by its id.
 */
export function describeMachine(machine: AnyStateMachine): MachineDescription {
  const root = machine.root;
  const stateless = Object.keys(root.states).length === 0;
  const states = stateless ? [machine.id] : Object.keys(root.states);
  const transitions: MachineDescription['transitions'] = [];
  const seen = new Set<string>();
  const add = (from: string, to: string, event: string) => {
    const key = `${from}\u0000${to}\u0000${event}`;
    if (seen.has(key)) return;
    seen.add(key);
    transitions.push({ from, to, event });
  };
  const visit = (node: AnyStateNode, from: string, shadowedBy?: AnyStateNode) => {
    for (const [eventType, definitions] of node.transitions) {
      if (shadowedBy?.transitions.has(eventType)) continue;
      for (const definition of definitions) {
        const targets = definition.target ?? [];
        const event = readableEvent(eventType);
        if (targets.length === 0) add(from, from, event);
        for (const target of targets) add(from, target.path[0] ?? from, event);
      }
    }
  };
  if (stateless) {
    visit(root, machine.id);
  } else {
    for (const name of states) visit(root.states[name], name);
    // Root-level handlers apply in every state that does not handle the event itself.
    for (const name of states) visit(root, name, root.states[name]);
  }
  return { initial: String(root.initial?.target[0]?.key ?? states[0]), states, transitions };
}

/** `xstate.after.shutdownBackoff.connection.Shutdown` -> `after shutdownBackoff`. */
function readableEvent(eventType: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  return after ? `after ${after[1]}` : eventType;
}
