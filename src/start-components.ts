/** A part of the running server: started in order, stopped in reverse. */
export interface Component {
  /** Names it in logs. */
  readonly name: string;
  /** Brings it up; what follows it in the list may rely on it. */
  start?(): Promise<void> | void;
  /** Takes it down; everything after it in the list is down already. */
  stop?(): Promise<void> | void;
}

/**
 * Starts `components` in order and returns the function that stops them in reverse order.
 * - a start that fails stops the ones already started (in reverse) and rethrows;
 * - a stop that fails is logged and the others still stop.
 */
export async function startComponents(
  components: readonly Component[],
  log: (message: string, error?: unknown) => void,
): Promise<() => Promise<void>> {
  const started: Component[] = [];
  const stopAll = async () => {
    for (const component of started.splice(0).reverse()) {
      try {
        await component.stop?.();
      } catch (error) {
        log(`Could not stop ${component.name}`, error);
      }
    }
  };
  for (const component of components) {
    try {
      await component.start?.();
    } catch (error) {
      await stopAll();
      throw error;
    }
    started.push(component);
  }
  return stopAll;
}
