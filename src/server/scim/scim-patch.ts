import {
  InvalidScimPatchOp,
  InvalidScimPatchRequest,
  NoPathInScimPatchOp,
  NoTarget,
  ScimError as PatchError,
  patchBodyValidation,
  type ScimPatch,
  type ScimPatchOperation,
  type ScimResource,
  scimPatch,
} from 'scim-patch';
// Not re-exported by the package's entry: the errors that say a remove's target is absent.
import {
  FilterArrayTargetNotFound,
  FilterOnEmptyArray,
  InvalidRemoveOpPath,
} from 'scim-patch/lib/src/errors/scimErrors.js';
import { ScimError, type ScimType } from './scim-error.js';

/** The most operations one PATCH may carry. */
export const MAX_PATCH_OPERATIONS = 1000;

/**
 * Applies a SCIM PATCH body (RFC 7644 §3.5.2) to `resource` with scim-patch, as Okta and
 * Microsoft Entra send it (operation names in any case, `path`-less `replace` with an object
 * value, `members[value eq "…"]` filters, `Add`/`Remove` of `members` lists, `Replace` of a
 * filtered value that is not there yet), and returns the resource it describes; `resource` itself
 * is left as it was. A `remove` of something absent changes nothing. A body that is not a
 * PatchOp, an unknown operation, a bad path or a `remove` without a path is a 400 with its
 * `scimType`.
 */
export function applyScimPatch<T extends Record<string, unknown>>(resource: T, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimError(400, 'A PATCH body must be a PatchOp JSON object.', 'invalidSyntax');
  }
  const patch = body as ScimPatch;
  if (!Array.isArray(patch.Operations) || patch.Operations.length === 0) {
    throw new ScimError(400, 'A PATCH body needs a non-empty "Operations" list.', 'invalidSyntax');
  }
  if (patch.Operations.length > MAX_PATCH_OPERATIONS) {
    throw new ScimError(
      400,
      `A PATCH may carry at most ${MAX_PATCH_OPERATIONS} operations.`,
      'tooMany',
    );
  }
  try {
    patchBodyValidation(patch);
    let document = structuredClone(resource) as unknown as ScimResource;
    for (const operation of removalsByValue(patch.Operations)) {
      try {
        // A replace whose filter matches nothing adds, as Entra expects of `emails[type eq "work"]`.
        document = scimPatch(document, [operation], {
          mutateDocument: true,
          treatMissingAsAdd: true,
        });
      } catch (error) {
        // Removing what is not there leaves nothing to remove: SCIM clients repeat themselves.
        const absent =
          error instanceof NoTarget ||
          error instanceof FilterOnEmptyArray ||
          error instanceof FilterArrayTargetNotFound ||
          error instanceof InvalidRemoveOpPath;
        if (!(absent && operation.op.toLowerCase() === 'remove' && operation.path)) throw error;
      }
    }
    return document as unknown as T;
  } catch (error) {
    if (error instanceof PatchError || error instanceof TypeError) {
      throw new ScimError(400, sentenceOf(error.message), scimTypeOf(error));
    }
    throw error;
  }
}

/** The `scimType` of a scim-patch failure: the request's shape, its path, its target or its value. */
function scimTypeOf(error: Error): ScimType {
  if (error instanceof NoTarget || error instanceof NoPathInScimPatchOp) return 'noTarget';
  if (error instanceof InvalidScimPatchRequest) return 'invalidSyntax';
  if (error instanceof InvalidScimPatchOp) return 'invalidPath';
  return 'invalidValue';
}

/**
 * Entra removes members as `{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}`;
 * scim-patch removes only entries deep-equal to those given, and a served member also has `type`,
 * `display` and `$ref`. Each such removal becomes one `members[value eq "<id>"]` removal.
 */
function removalsByValue(operations: readonly ScimPatchOperation[]): ScimPatchOperation[] {
  return operations.flatMap((operation) => {
    const { value } = operation as { value?: unknown };
    if (
      operation.op.toLowerCase() !== 'remove' ||
      typeof operation.path !== 'string' ||
      !/^[A-Za-z]+$/.test(operation.path) ||
      !Array.isArray(value) ||
      !value.every((v) => typeof (v as { value?: unknown } | null)?.value === 'string')
    ) {
      return [operation];
    }
    return value.map((v) => ({
      op: 'remove' as const,
      path: `${operation.path}[value eq ${JSON.stringify((v as { value: string }).value)}]`,
    }));
  });
}

/** scim-patch's message without its "[object Object]" and trailing noise, as a sentence. */
function sentenceOf(message: string): string {
  const text = message.replace(/\s*\[object Object\]/g, '').trim();
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
