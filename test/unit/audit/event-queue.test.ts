import { describe, expect, it } from 'vitest';
import { EventQueue, SUBSCRIPTION_ENDED } from '../../../src/modules/audit/event-queue.js';

describe('EventQueue', () => {
  it('should hand a pushed value to a waiting next()', async () => {
    const queue = new EventQueue<number>(10, () => {});
    const next = queue.next();
    queue.push(1);
    await expect(next).resolves.toEqual({ value: 1, done: false });
  });

  it('should deliver queued values in order', async () => {
    const queue = new EventQueue<number>(10, () => {});
    queue.push(1);
    queue.push(2);
    await expect(queue.next()).resolves.toEqual({ value: 1, done: false });
    await expect(queue.next()).resolves.toEqual({ value: 2, done: false });
  });

  it('should end with SUBSCRIPTION_ENDED rather than drop values when a subscriber falls too far behind', async () => {
    let closed = 0;
    const queue = new EventQueue<number>(2, () => {
      closed += 1;
    });
    queue.push(1);
    queue.push(2);
    queue.push(3);
    await expect(queue.next()).resolves.toEqual({ value: 1, done: false });
    await expect(queue.next()).resolves.toEqual({ value: 2, done: false });
    await expect(queue.next()).rejects.toMatchObject({
      message: expect.stringContaining('fell more than 2 events behind'),
      extensions: { code: SUBSCRIPTION_ENDED },
    });
    expect(closed).toBe(1);
  });

  it('should finish waiting readers and call onClose once when the client returns', async () => {
    let closed = 0;
    const queue = new EventQueue<number>(10, () => {
      closed += 1;
    });
    const waiting = queue.next();
    await queue.return();
    await queue.return();
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
    queue.push(1);
    await expect(queue.next()).resolves.toEqual({ value: undefined, done: true });
    expect(closed).toBe(1);
  });
});
