import { isIP } from 'node:net';
import { isStorableValue, MAX_JSON_BYTES } from '../../conditions/parse-json-object.js';
import { isStorableText } from '../../modules/shared/validate.js';
import { badRequest } from './authzen-refusal.js';

/** The most evaluations one `/access/v1/evaluations` request may carry. */
export const MAX_EVALUATIONS = 500;

const MAX_ID_LENGTH = 512;

export interface AuthzenSubject {
  readonly type: string;
  /** Absent only in a subject search. */
  readonly id: string | null;
}

export interface AuthzenResource {
  readonly type: string;
  /** Absent only in a resource search. */
  readonly id: string | null;
  readonly properties: Readonly<Record<string, unknown>> | null;
}

/** What conditions read of the request an enforcement point is deciding (never its own). */
export interface AuthzenRequestContext {
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly headers: Readonly<Record<string, string>> | null;
  readonly device: Readonly<Record<string, unknown>> | null;
}

/** One access evaluation: may `subject` do `action` on `resource`? */
export interface AuthzenEvaluation {
  readonly subject: AuthzenSubject;
  readonly action: string;
  readonly resource: AuthzenResource;
  readonly context: AuthzenRequestContext;
}

export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

const SEMANTICS: readonly EvaluationsSemantic[] = [
  'execute_all',
  'deny_on_first_deny',
  'permit_on_first_permit',
];

type Json = Record<string, unknown>;

function objectAt(value: unknown, where: string, required: boolean): Json | null {
  if (value === undefined || value === null) {
    if (required) throw badRequest(`${where} is required.`);
    return null;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`${where} must be a JSON object.`);
  }
  return value as Json;
}

function textAt(value: unknown, where: string, required: boolean): string | null {
  if (value === undefined || value === null || value === '') {
    if (required) throw badRequest(`${where} is required.`);
    return null;
  }
  if (typeof value !== 'string') throw badRequest(`${where} must be a string.`);
  if (value.length > MAX_ID_LENGTH) {
    throw badRequest(`${where} is longer than ${MAX_ID_LENGTH} characters.`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (!isStorableText(value) || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badRequest(`${where} must be text without control characters or lone surrogates.`);
  }
  return value;
}

function jsonObjectAt(value: unknown, where: string): Json | null {
  const object = objectAt(value, where, false);
  if (object === null) return null;
  if (JSON.stringify(object).length > MAX_JSON_BYTES) {
    throw badRequest(`${where} is larger than ${MAX_JSON_BYTES} bytes.`);
  }
  if (!isStorableValue(object)) {
    throw badRequest(`${where} must not contain NUL characters or lone surrogates.`);
  }
  return object;
}

function subjectOf(value: unknown, where: string, needsId: boolean): AuthzenSubject {
  const subject = objectAt(value, where, true) as Json;
  return {
    type: textAt(subject.type, `${where}.type`, true) as string,
    id: textAt(subject.id, `${where}.id`, needsId),
  };
}

function actionOf(value: unknown, where: string): string {
  const action = objectAt(value, where, true) as Json;
  return textAt(action.name, `${where}.name`, true) as string;
}

function resourceOf(value: unknown, where: string, needsId: boolean): AuthzenResource {
  const resource = objectAt(value, where, true) as Json;
  return {
    type: textAt(resource.type, `${where}.type`, true) as string,
    id: textAt(resource.id, `${where}.id`, needsId),
    properties: jsonObjectAt(resource.properties, `${where}.properties`),
  };
}

/**
 * The parts of `context` conditions read as the request being decided: `ip` (an IP address),
 * `userAgent`, `headers` (string values) and `device` (an object). Anything else is ignored, the
 * time included: decisions use Keyholder's clock.
 */
function contextOf(value: unknown, where: string): AuthzenRequestContext {
  const context = objectAt(value, where, false);
  if (context === null) return { ip: null, userAgent: null, headers: null, device: null };
  const ip = textAt(context.ip, `${where}.ip`, false);
  if (ip !== null && isIP(ip) === 0) throw badRequest(`${where}.ip is not an IP address.`);
  const rawHeaders = jsonObjectAt(context.headers, `${where}.headers`);
  let headers: Record<string, string> | null = null;
  if (rawHeaders !== null) {
    headers = {};
    for (const [name, text] of Object.entries(rawHeaders)) {
      if (typeof text !== 'string')
        throw badRequest(`${where}.headers["${name}"] must be a string.`);
      headers[name.toLowerCase()] = text;
    }
  }
  return {
    ip,
    userAgent: textAt(context.userAgent, `${where}.userAgent`, false),
    headers,
    device: jsonObjectAt(context.device, `${where}.device`),
  };
}

function bodyOf(body: unknown): Json {
  return objectAt(body, 'The request body', true) as Json;
}

/** An `/access/v1/evaluation` body; anything malformed is a 400 naming the field. */
export function parseEvaluation(body: unknown): AuthzenEvaluation {
  const json = bodyOf(body);
  return {
    subject: subjectOf(json.subject, 'subject', true),
    action: actionOf(json.action, 'action'),
    resource: resourceOf(json.resource, 'resource', true),
    context: contextOf(json.context, 'context'),
  };
}

/**
 * An `/access/v1/evaluations` body: each item's `subject`, `action`, `resource` and `context`
 * default to the top-level ones (an item's own win); 1 to `MAX_EVALUATIONS` items. Without an
 * `evaluations` array it is one evaluation, as the specification allows.
 */
export function parseEvaluations(body: unknown): {
  readonly evaluations: readonly AuthzenEvaluation[];
  readonly semantic: EvaluationsSemantic;
} {
  const json = bodyOf(body);
  const options = objectAt(json.options, 'options', false);
  const rawSemantic = options?.evaluations_semantic ?? 'execute_all';
  if (!SEMANTICS.includes(rawSemantic as EvaluationsSemantic)) {
    throw badRequest(`options.evaluations_semantic must be one of ${SEMANTICS.join(', ')}.`);
  }
  const semantic = rawSemantic as EvaluationsSemantic;
  if (json.evaluations === undefined || json.evaluations === null) {
    return { evaluations: [parseEvaluation(json)], semantic };
  }
  if (!Array.isArray(json.evaluations)) throw badRequest('evaluations must be an array.');
  if (json.evaluations.length === 0) throw badRequest('evaluations must not be empty.');
  if (json.evaluations.length > MAX_EVALUATIONS) {
    throw badRequest(
      `evaluations holds ${json.evaluations.length} items; at most ${MAX_EVALUATIONS} are allowed.`,
    );
  }
  const evaluations = json.evaluations.map((raw: unknown, index: number) => {
    const item = objectAt(raw, `evaluations[${index}]`, true) as Json;
    const pick = (key: string) => (item[key] === undefined ? json[key] : item[key]);
    const where = (key: string) => (item[key] === undefined ? key : `evaluations[${index}].${key}`);
    return {
      subject: subjectOf(pick('subject'), where('subject'), true),
      action: actionOf(pick('action'), where('action')),
      resource: resourceOf(pick('resource'), where('resource'), true),
      context: contextOf(pick('context'), where('context')),
    };
  });
  return { evaluations, semantic };
}

/** The page a search asks for: the token of the previous page's `next_token`, if any. */
function pageTokenOf(value: unknown): string | null {
  const page = objectAt(value, 'page', false);
  if (page === null) return null;
  return textAt(page.token ?? page.next_token, 'page.token', false);
}

export interface SubjectSearch {
  readonly subjectType: string;
  readonly action: string;
  readonly resource: AuthzenResource;
  readonly context: AuthzenRequestContext;
  readonly page: string | null;
}

export function parseSubjectSearch(body: unknown): SubjectSearch {
  const json = bodyOf(body);
  return {
    subjectType: subjectOf(json.subject, 'subject', false).type,
    action: actionOf(json.action, 'action'),
    resource: resourceOf(json.resource, 'resource', true),
    context: contextOf(json.context, 'context'),
    page: pageTokenOf(json.page),
  };
}

export interface ResourceSearch {
  readonly subject: AuthzenSubject;
  readonly action: string;
  readonly resource: AuthzenResource;
  readonly context: AuthzenRequestContext;
  readonly page: string | null;
}

export function parseResourceSearch(body: unknown): ResourceSearch {
  const json = bodyOf(body);
  return {
    subject: subjectOf(json.subject, 'subject', true),
    action: actionOf(json.action, 'action'),
    resource: resourceOf(json.resource, 'resource', false),
    context: contextOf(json.context, 'context'),
    page: pageTokenOf(json.page),
  };
}

export interface ActionSearch {
  readonly subject: AuthzenSubject;
  readonly resource: AuthzenResource;
  readonly context: AuthzenRequestContext;
  readonly page: string | null;
}

export function parseActionSearch(body: unknown): ActionSearch {
  const json = bodyOf(body);
  return {
    subject: subjectOf(json.subject, 'subject', true),
    resource: resourceOf(json.resource, 'resource', true),
    context: contextOf(json.context, 'context'),
    page: pageTokenOf(json.page),
  };
}
