import { breakerMachine } from '../../machines/breaker';
import { connectionMachine } from '../../machines/connection';
import { describeMachine } from '../../machines/describe';

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
});
