import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface MachineDescription {
  initial: string;
  states: string[];
  transitions: Array<{ from: string; to: string; event: string }>;
}

/**
 * A flat picture of a machine for the dashboard: its top-level states and every transition
 * (targetless ones as self-loops), `after` timers named by their delay.
 */
export function describeMachine(machine: AnyStateMachine): MachineDescription {
  const root = machine.root;
  const states = Object.keys(root.states);
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
  for (const name of states) visit(root.states[name], name);
  // Root-level handlers apply in every state that does not handle the event itself.
  for (const name of states) visit(root, name, root.states[name]);
  return { initial: String(root.initial?.target[0]?.key ?? states[0]), states, transitions };
}

/** `xstate.after.shutdownBackoff.connection.Shutdown` -> `after shutdownBackoff`. */
function readableEvent(eventType: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  return after ? `after ${after[1]}` : eventType;
}
