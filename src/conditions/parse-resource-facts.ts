import {
  NO_RESOURCE_FACTS,
  type ResourceFacts,
} from 'keyholder-directive/conditions/condition-context.js';
import { badUserInput } from 'keyholder-directive/errors.js';
import { parseJsonObject } from './parse-json-object.js';

const MAX_TYPE_LENGTH = 128;

/**
 * A resource's type and properties as an asker gave them (`check`, AuthZEN), for conditions
 * (`resourceType`, `properties`): a type of at most 128 characters, properties a JSON object of at
 * most 8 KiB; anything else is `BAD_USER_INPUT` naming the field (`prefix` + `resourceType` or
 * `properties`).
 */
export function parseResourceFacts(
  type: unknown,
  properties: unknown,
  fields: { readonly type: string; readonly properties: string } = {
    type: 'resourceType',
    properties: 'properties',
  },
): ResourceFacts {
  if ((type === null || type === undefined) && (properties === null || properties === undefined)) {
    return NO_RESOURCE_FACTS;
  }
  if (type !== null && type !== undefined) {
    if (typeof type !== 'string') {
      throw badUserInput(`${fields.type} must be a string.`, { field: fields.type });
    }
    if (type.length > MAX_TYPE_LENGTH) {
      throw badUserInput(`${fields.type} is longer than ${MAX_TYPE_LENGTH} characters.`, {
        field: fields.type,
      });
    }
  }
  return {
    type: typeof type === 'string' ? type : '',
    properties: parseJsonObject(properties, fields.properties) ?? {},
  };
}
