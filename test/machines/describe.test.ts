import { breakerMachine } from '../../machines/breaker';
import { connectionMachine } from '../../machines/connection';
import { describeConnectionLayer, describeMachine } from '../../machines/describe';
import { serverMachine } from '../../machines/server';
import { SUPERVISOR_RULES } from '../../machines/supervisor';

describe('describeMachine', () => {
  it('lists the connection states and its transitions for the dashboard', () => {
    const description = describeMachine(connectionMachine);
    expect(description.initial).toBe('Connecting');
    expect(description.states).toEqual(['Idle', 'Connecting', 'Ready', 'TransientFailure', 'Shutdown']);
    expect(description.transitions).toContainEqual({ from: 'Ready', to: 'Connecting', event: 'PROBE_FAILED' });
    expect(description.transitions).toContainEqual({ from: 'Shutdown', to: 'Connecting', event: 'TICK' });
    // Ready handles PROBE_FAILED itself: the root-level self-loop does not apply there.
    expect(description.transitions).not.toContainEqual({ from: 'Ready', to: 'Ready', event: 'PROBE_FAILED' });
    expect(description.transitions).toContainEqual({ from: 'Idle', to: 'Idle', event: 'PROBE_FAILED' });
  });

  it('describes the breaker', () => {
    const description = describeMachine(breakerMachine);
    expect(description.initial).toBe('closed');
    expect(description.states).toEqual(['closed', 'open', 'halfOpen']);
    expect(description.transitions).toEqual(expect.arrayContaining([
      { from: 'closed', to: 'open', event: 'FAILURE' },
      { from: 'open', to: 'halfOpen', event: 'TICK' },
      { from: 'halfOpen', to: 'closed', event: 'SUCCESS' },
      { from: 'halfOpen', to: 'open', event: 'FAILURE' },
    ]));
  });

  it('describes the server machine, which has no states of its own, as one state routing every event', () => {
    const description = describeMachine(serverMachine);
    expect(description.initial).toBe('server');
    expect(description.states).toEqual(['server']);
    expect(description.transitions).toEqual(expect.arrayContaining(
      ['REQUEST_CONNECT', 'CALL_OK', 'CALL_FAILED', 'TRIAL_STARTED', 'PROBE_ANSWERED', 'CONNECTION_ENTERED', 'BREAKER_ENTERED']
        .map((event) => ({ from: 'server', to: 'server', event })),
    ));
  });

  it('describes the supervisor by the rules each event applies, every rule once', () => {
    const { supervisor } = describeConnectionLayer();
    expect(supervisor.states).toEqual(['active']);
    expect(supervisor.transitions.map((t) => t.event)).toEqual(['MEMBERSHIP', 'SERVER_ADDED', 'SERVER_REMOVED', 'TICK', 'TICK_SLICE']);
    expect(supervisor.rules).toContainEqual({ event: 'SERVER_REMOVED', rule: 'stop removed server' });
    expect(supervisor.rules).toContainEqual({ event: 'TICK_SLICE', rule: 'tick the next slice of servers' });
    expect(new Set(supervisor.rules?.map((r) => r.rule))).toEqual(new Set(SUPERVISOR_RULES));
  });
});
