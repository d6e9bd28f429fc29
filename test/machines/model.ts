import type { ActorLogic, AnyStateMachine, AnyTransitionDefinition, InspectionEvent, SnapshotFrom } from 'xstate';
import { initialTransition, transition } from 'xstate';
import { getShortestPaths } from 'xstate/graph';

/**
 * Model-based testing helpers. The machines take the time inside their events (`at`); the model
 * steps are abstract ("a moment later" or "much later") and the same rule turns them into times
 * for the model traversal and for the replay on a simulated clock, so both agree exactly.
 */
export const STEP_MS = 1;
export const LATE_MS = 1_000_000;

export interface ModelEvent {
  type: string;
  /** Much later than the previous step (beyond every timeout) instead of 1 ms later. */
  late?: boolean;
  [key: string]: unknown;
}

export interface TimedSnapshot<M extends AnyStateMachine> {
  machine: SnapshotFrom<M>;
  now: number;
  status: 'active';
  output: undefined;
  error: undefined;
}

export function atOf(now: number, event: ModelEvent): number {
  return now + (event.late ? LATE_MS : STEP_MS);
}

/** The machine as actor logic over abstract events, carrying the model's clock in its snapshot. */
export function timedLogic<M extends AnyStateMachine>(machine: M, input: unknown, start: number): ActorLogic<TimedSnapshot<M>, ModelEvent> {
  const wrap = (snapshot: SnapshotFrom<M>, now: number): TimedSnapshot<M> => ({
    machine: snapshot,
    now,
    status: 'active',
    output: undefined,
    error: undefined,
  });
  return {
    config: machine,
    transition: (snapshot, event) => {
      const at = atOf(snapshot.now, event);
      const { late: _late, ...rest } = event;
      return wrap(transition(machine, snapshot.machine, { ...rest, at } as never)[0] as SnapshotFrom<M>, at);
    },
    getInitialSnapshot: () => wrap(initialTransition(machine, input as never)[0] as SnapshotFrom<M>, start),
    getPersistedSnapshot: (snapshot) => snapshot,
  } as ActorLogic<TimedSnapshot<M>, ModelEvent>;
}

/** Every transition definition of a machine, by a stable key (source, event, candidate index). */
export function allTransitions(machine: AnyStateMachine): Set<string> {
  const keys = new Set<string>();
  const visit = (node: AnyStateMachine['root']) => {
    for (const [, definitions] of node.transitions) for (const definition of definitions) keys.add(transitionKey(definition));
    for (const child of Object.values(node.states)) visit(child as AnyStateMachine['root']);
  };
  visit(machine.root);
  return keys;
}

export function transitionKey(definition: AnyTransitionDefinition): string {
  const candidates = definition.source.transitions.get(definition.eventType) ?? [];
  const target = definition.target?.map((t) => t.key).join(',') || '(self)';
  return `${definition.source.key} --${definition.eventType}[${candidates.indexOf(definition)}]--> ${target}`;
}

/** Collects the transitions a real actor takes, from its inspection events. */
export function transitionRecorder(machineId: string) {
  const taken: AnyTransitionDefinition[] = [];
  let recording = false;
  return {
    inspect: (event: InspectionEvent) => {
      if (!recording || event.type !== '@xstate.microstep') return;
      for (const definition of event._transitions) {
        if (definition.source.machine.id === machineId) taken.push(definition);
      }
    },
    start: () => void (recording = true),
    /** Transitions taken since the last call. */
    drain: (): AnyTransitionDefinition[] => taken.splice(0),
  };
}

/**
 * Paths to test: the shortest path to every distinct model state, each extended by every event
 * possible there, so every edge of the model graph is walked once.
 */
export function edgePaths<M extends AnyStateMachine>(
  logic: ActorLogic<TimedSnapshot<M>, ModelEvent>,
  events: (snapshot: TimedSnapshot<M>) => ModelEvent[],
  serializeState: (snapshot: TimedSnapshot<M>) => string,
): ModelEvent[][] {
  const paths = getShortestPaths(logic, {
    events,
    serializeState: (snapshot) => serializeState(snapshot as TimedSnapshot<M>),
    serializeEvent: (event) => JSON.stringify(event),
  });
  return paths.flatMap((path) => {
    const prefix = path.steps.map((step) => step.event).filter((event) => event.type !== 'xstate.init');
    return events(path.state).map((last) => [...prefix, last]);
  });
}

export function reportCoverage(name: string, covered: Set<string>, all: Set<string>): string[] {
  const missing = [...all].filter((key) => !covered.has(key));
  // Printed on purpose: the coverage figure is part of the test's output.
  process.stdout.write(`${name}: covered ${all.size - missing.length}/${all.size} transitions\n`);
  return missing;
}
