/**
 * A request the AuthZEN API refuses as a whole, answered with `status` and `message` as the body
 * (the specification's error shape: an HTTP status and an error message string).
 */
export class AuthzenRefusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 500 | 503,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new AuthzenRefusal(400, message);
