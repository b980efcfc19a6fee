import type { GrantLike } from 'keyholder-directive/authz/grant-set.js';
import type { DecisionRecorder } from 'keyholder-directive/directive/decision-recorder.js';
import { tracer } from './tracing.js';

/**
 * `recorder` plus one `keyholder.decide` span per decision the directive reports (a scope-only
 * requirement once per coordinate per operation, a resource one per value), child of the field's
 * span: attributes `keyholder.coordinate`, `keyholder.decision` (`allowed` or `denied`), the number
 * of grants that allowed it, or the error code that denied it. Decisions are synchronous and in
 * memory, so the span marks the instant. Use only while tracing is on.
 */
export function tracedDecisions<G extends GrantLike>(
  recorder: DecisionRecorder<G> | undefined,
): DecisionRecorder<G> {
  return {
    allowed(coordinate, grants) {
      recorder?.allowed(coordinate, grants);
      tracer()
        .startSpan('keyholder.decide', {
          attributes: {
            'keyholder.coordinate': coordinate,
            'keyholder.decision': 'allowed',
            'keyholder.grants': grants.length,
          },
        })
        .end();
    },
    denied(coordinate, error) {
      recorder?.denied(coordinate, error);
      tracer()
        .startSpan('keyholder.decide', {
          attributes: {
            'keyholder.coordinate': coordinate,
            'keyholder.decision': 'denied',
            'keyholder.code': String(error.extensions.code ?? 'FORBIDDEN'),
          },
        })
        .end();
    },
  };
}
