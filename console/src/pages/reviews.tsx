import { Empty, ErrorList, Loading, ReasonAction, Time } from '../components/ui';
import { graphql } from '../gql';
import { execute } from '../lib/api';
import { useQuery, useSession } from '../lib/session-context';

const OpenReviews = graphql(`
  query OpenReviews {
    accessReviews(first: 50, status: OPEN) {
      nodes {
        id
        name
        dueAt
        createdBy {
          name
        }
        counts {
          total
          pending
          kept
          revoked
        }
        items(first: 100, decided: false) {
          nodes {
            id
            grant {
              id
              resource
              reason
              identity {
                id
                name
              }
              scope {
                name
              }
              role {
                name
              }
            }
          }
        }
      }
    }
  }
`);

const Decide = graphql(`
  mutation DecideReviewItem($itemId: ID!, $decision: AccessReviewDecision!, $note: String) {
    decideAccessReviewItem(itemId: $itemId, decision: $decision, note: $note) {
      id
      outcome
    }
  }
`);

/** Open access reviews: progress, and the items still to decide (keep or revoke, with a note). */
export function ReviewsPage() {
  const session = useSession();
  const reviews = useQuery(OpenReviews, {});
  const nodes = reviews.data?.accessReviews?.nodes ?? [];
  return (
    <section>
      <h1>Access reviews</h1>
      {reviews.loading && !reviews.data ? <Loading what="reviews" /> : null}
      <ErrorList errors={reviews.errors} />
      {reviews.data && nodes.length === 0 ? <Empty>No review is open.</Empty> : null}
      {nodes.map((review) => {
        const decided = review.counts.total - review.counts.pending;
        return (
          <article key={review.id} className="card">
            <h2>{review.name}</h2>
            <p>
              Due <Time at={review.dueAt} />
              {review.createdBy ? `, started by ${review.createdBy.name}` : ''}.
            </p>
            <label>
              {decided} of {review.counts.total} decided ({review.counts.kept} kept,{' '}
              {review.counts.revoked} revoked)
              <progress max={review.counts.total} value={decided} />
            </label>
            {review.items.nodes.length === 0 ? <Empty>Every item is decided.</Empty> : null}
            <ul className="plain" aria-label={`Items of ${review.name} to decide`}>
              {review.items.nodes.map((item) => {
                const grant = item.grant;
                const what = `${grant?.scope?.name ?? `role ${grant?.role?.name ?? '?'}`} of ${grant?.identity?.name ?? 'a group'}`;
                const decide = (decision: 'KEEP' | 'REVOKE') => async (note: string) => {
                  const result = await execute(session.key, Decide, {
                    itemId: item.id,
                    decision,
                    note: note || null,
                  });
                  if (result.errors.length === 0) reviews.reload();
                  return result.errors;
                };
                return (
                  <li key={item.id}>
                    <strong>{grant?.identity?.name ?? 'a group'}</strong>:{' '}
                    {grant?.scope?.name ?? `role ${grant?.role?.name ?? '?'}`} on{' '}
                    {grant?.resource ?? 'every resource'} ({grant?.reason}){' '}
                    <ReasonAction
                      label={`Keep ${what}`}
                      reasonRequired={false}
                      reasonLabel="Note"
                      onSubmit={decide('KEEP')}
                    />{' '}
                    <ReasonAction
                      label={`Revoke ${what}`}
                      reasonLabel="Note"
                      onSubmit={decide('REVOKE')}
                    />
                  </li>
                );
              })}
            </ul>
          </article>
        );
      })}
    </section>
  );
}
