import {
  buildASTSchema,
  concatAST,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  parse,
  print,
} from 'graphql';
import { keyholderTypeDefs } from '../../src/server/schema.js';

/** Where the reference is written, relative to the repository root. */
export const SCHEMA_REFERENCE_PATH = 'docs/reference/schema.md';

const GUARDS = new Set(['requires', 'authenticated']);

/** The description as one Markdown paragraph (or a table cell: `cell`). */
function prose(description: string | null | undefined, cell = false): string {
  const text = (description ?? '').trim();
  if (!cell) return text;
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** The `@requires` / `@authenticated` written on a type or field, as in the SDL. */
function guardOf(node: {
  readonly astNode?: unknown;
  readonly extensionASTNodes?: unknown;
}): string {
  const nodes = [
    node.astNode,
    ...((node.extensionASTNodes as readonly unknown[] | undefined) ?? []),
  ] as ({ directives?: readonly { name: { value: string } }[] } | null | undefined)[];
  const guards = nodes
    .flatMap((n) => n?.directives ?? [])
    .filter((d) => GUARDS.has(d.name.value))
    .map((d) => `\`${print(d as Parameters<typeof print>[0])}\``);
  return guards.join(' ');
}

/** The type as written, linked to its section unless it is a built-in scalar. */
function typeLink(type: GraphQLType): string {
  const named = getNamedType(type);
  const code = `\`${String(type)}\``;
  if (isScalarType(named) && isSpecifiedScalarType(named)) return code;
  return `[${code}](#${named.name.toLowerCase()})`;
}

function argumentList(args: readonly GraphQLArgument[]): string {
  if (args.length === 0) return '';
  const list = args.map((arg) => {
    const fallback = arg.astNode?.defaultValue;
    return `${arg.name}: ${String(arg.type)}${fallback ? ` = ${print(fallback)}` : ''}`;
  });
  return `(${list.join(', ')})`;
}

function argumentNotes(args: readonly GraphQLArgument[]): string[] {
  return args
    .filter((arg) => arg.description)
    .map((arg) => `- \`${arg.name}\`: ${prose(arg.description, true)}`);
}

// biome-ignore lint/suspicious/noExplicitAny: fields of any root type
function rootField(typeName: string, field: GraphQLField<any, any>): string[] {
  const guard = guardOf(field);
  const notes = argumentNotes(field.args);
  return [
    `### \`${typeName}.${field.name}\``,
    '',
    '```graphql',
    `${field.name}${argumentList(field.args)}: ${String(field.type)}`,
    '```',
    '',
    `Returns ${typeLink(field.type)}. Guard: ${guard || 'none'}`,
    ...(field.description ? ['', prose(field.description)] : []),
    ...(notes.length > 0 ? ['', 'Arguments:', '', ...notes] : []),
    '',
  ];
}

function typeSection(type: GraphQLNamedType): string[] {
  const kind = isObjectType(type)
    ? 'object'
    : isInterfaceType(type)
      ? 'interface'
      : isUnionType(type)
        ? 'union'
        : isInputObjectType(type)
          ? 'input'
          : isEnumType(type)
            ? 'enum'
            : 'scalar';
  const lines = [`### \`${type.name}\``, '', `*${kind}*`];
  const guard = guardOf(type);
  if (guard) lines.push('', `Guard: ${guard}`);
  if (type.description) lines.push('', prose(type.description));
  if (isObjectType(type) || isInterfaceType(type)) {
    const interfaces = type.getInterfaces().map((i) => `\`${i.name}\``);
    if (interfaces.length > 0) lines.push('', `Implements ${interfaces.join(', ')}.`);
    lines.push('', '| field | type | guard | description |', '| --- | --- | --- | --- |');
    for (const field of Object.values(type.getFields())) {
      lines.push(
        `| \`${field.name}${argumentList(field.args)}\` | ${typeLink(field.type)} | ${guardOf(field)} | ${prose(field.description, true)} |`,
      );
    }
  } else if (isInputObjectType(type)) {
    lines.push('', '| field | type | default | description |', '| --- | --- | --- | --- |');
    for (const field of Object.values(type.getFields()) as GraphQLInputField[]) {
      const fallback = field.astNode?.defaultValue;
      lines.push(
        `| \`${field.name}\` | ${typeLink(field.type)} | ${fallback ? `\`${print(fallback)}\`` : ''} | ${prose(field.description, true)} |`,
      );
    }
  } else if (isEnumType(type)) {
    lines.push('', '| value | description |', '| --- | --- |');
    for (const value of type.getValues()) {
      lines.push(`| \`${value.name}\` | ${prose(value.description, true)} |`);
    }
  } else if (isUnionType(type)) {
    lines.push(
      '',
      `One of ${type
        .getTypes()
        .map((t) => `\`${t.name}\``)
        .join(', ')}.`,
    );
  }
  lines.push('');
  return lines;
}

function rootSection(schema: GraphQLSchema, typeName: 'Query' | 'Mutation' | 'Subscription') {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) return [];
  return [
    `## ${typeName}`,
    '',
    ...Object.values(type.getFields()).flatMap((field) => rootField(typeName, field)),
  ];
}

/** Keyholder's schema from its SDL (`schema/*.graphql` and the directives), as Markdown. */
export function renderSchemaReference(typeDefs: readonly string[] = keyholderTypeDefs()): string {
  const schema = buildASTSchema(concatAST(typeDefs.map((sdl) => parse(sdl))));
  const roots = new Set(['Query', 'Mutation', 'Subscription']);
  const types = Object.values(schema.getTypeMap())
    .filter((type) => !type.name.startsWith('__') && !roots.has(type.name))
    .filter((type) => !(isScalarType(type) && isSpecifiedScalarType(type)))
    .sort((a, b) => a.name.localeCompare(b.name));
  const directives = schema
    .getDirectives()
    .filter((d) => GUARDS.has(d.name))
    .map((d) => d.astNode)
    .filter((node) => node !== undefined && node !== null)
    .map((node) => print(node));
  return [
    '# Schema reference',
    '',
    '<!-- Generated from schema/*.graphql by `npm run docs:schema`. Do not edit: a spec fails when',
    '     this file and the SDL disagree. -->',
    '',
    'Every operation Keyholder serves at `POST /graphql` (and `GET` for queries) and over',
    'WebSocket, generated from the SDL in [`schema/`](../../schema). **Guard** is the requirement',
    'written on the field or type (see [the `@requires` directive](../concepts/requires-directive.md)):',
    "a type's guard applies to every field returning it, and requirements add up (AND). With",
    '`FEDERATION=subgraph` the schema also has `_service` and `_entities` (see',
    '[Apollo Federation](../guides/federation.md)).',
    '',
    '```graphql',
    directives.join('\n\n'),
    '```',
    '',
    ...rootSection(schema, 'Query'),
    ...rootSection(schema, 'Mutation'),
    ...rootSection(schema, 'Subscription'),
    '## Types',
    '',
    ...types.flatMap(typeSection),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}
