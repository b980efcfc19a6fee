/** A service of the example listening on HTTP. */
export interface RunningService {
  /** Its GraphQL endpoint, `http://host:port/graphql`. */
  readonly url: string;
  /** Stops listening, letting requests in flight finish. */
  stop(): Promise<void>;
}
