import type { ApolloServerPlugin } from '@apollo/server';
import type { KeyholderContext } from '../context/keyholder-context.js';
import { accessEventOf } from '../modules/audit/access-event.js';
import type { AccessLog } from '../modules/audit/access-log.js';
import { type AccessLogMode, accessEventDue } from '../modules/audit/access-log-mode.js';

/** The error that replaces a response whose access event could not be queued. */
export const ACCESS_LOG_UNAVAILABLE =
  'The access log cannot be written right now, so the response was withheld. Try again later.';

/**
 * Queues one access event per HTTP operation that evaluated `@requires` (with `mode.all`; else
 * only per operation concerning a sensitive scope), before its response is sent. A full queue holds the response back (back-pressure); if it stays full, the response is
 * replaced by an error (fail closed): nothing is served whose access cannot be recorded.
 * A mutation's change is committed (with its change event) before this runs, so its response is
 * never withheld: its access event waits for room on its own.
 */
export function useAccessLog(
  accessLog: AccessLog,
  mode: AccessLogMode,
  log: (message: string, error?: unknown) => void,
): ApolloServerPlugin<KeyholderContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ contextValue, operationName, operation, queryHash, response }) {
          const record = contextValue.access;
          const due = accessEventDue(mode, record);
          if (record === undefined || !due.write) return;
          const event = accessEventOf(
            contextValue.caller,
            record,
            {
              name: operationName ?? null,
              type: operation?.operation ?? null,
              documentHash: queryHash ?? null,
              transport: 'http',
            },
            performance.now() - started,
            false,
            due.sensitive,
          );
          if (operation?.operation === 'mutation') {
            accessLog
              .append(event, Number.POSITIVE_INFINITY)
              ?.catch((error) => log('Could not queue the access event of a mutation', error));
            return;
          }
          try {
            await accessLog.append(event);
          } catch {
            response.http.status = 503;
            response.body = {
              kind: 'single',
              singleResult: {
                errors: [
                  {
                    message: ACCESS_LOG_UNAVAILABLE,
                    extensions: { code: 'INTERNAL_SERVER_ERROR' },
                  },
                ],
              },
            };
          }
        },
      };
    },
  };
}
