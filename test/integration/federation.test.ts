import { randomUUID } from 'node:crypto';
import {
  buildASTSchema,
  type DirectiveNode,
  Kind,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
  parse,
  print,
  validateSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { expectError, expectUnauthenticated } from '../fixtures/expect-error.js';
import { dataOf, type GqlResponse, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** The query a router sends a subgraph for `Identity` entities (as in the README). */
const ENTITIES = `query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Identity { id name grants { scope { name } } }
  }
}`;

const identityRef = (id: string) => ({ __typename: 'Identity', id });

interface EntitiesData {
  _entities: ({ id: string; name: string; grants: { scope: { name: string } }[] } | null)[];
}

function argument(directive: DirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value ? print(value) : undefined;
}

describe.each(engines())('Keyholder as a federation subgraph on %s', (engine) => {
  let server: TestServer;
  /** Holds nothing: reads only itself. */
  let plain: SeededPrincipal;
  /** Reads identities, but not other identities' grants. */
  let reader: SeededPrincipal;

  const entities = (key: string | null, representations: unknown[]) =>
    gql<EntitiesData>(server.url, key, ENTITIES, { representations });

  /** Every error of a response, as code and path. */
  const errorsOf = (response: GqlResponse<unknown>) =>
    (response.body.errors ?? []).map((e) => ({ code: e.extensions?.code, path: e.path }));

  beforeAll(async () => {
    server = await startTestServer(engine, { federation: 'subgraph' });
    plain = await identityWithGrants(server, []);
    reader = await identityWithGrants(server, ['identities:read']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('_service { sdl }', () => {
    it('should publish SDL that parses, builds and declares Identity an entity keyed by id', async () => {
      const { _service } = dataOf(await gql(server.url, plain.key, '{ _service { sdl } }'));
      const document = parse(_service.sdl as string);

      expect(validateSchema(buildASTSchema(document))).toEqual([]);
      const identityKeys = document.definitions
        .filter(
          (d): d is ObjectTypeDefinitionNode | ObjectTypeExtensionNode =>
            (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) &&
            d.name.value === 'Identity',
        )
        .flatMap((d) => d.directives ?? [])
        .filter((d) => d.name.value === 'key');
      expect(identityKeys.map((d) => argument(d, 'fields'))).toEqual(['"id"']);
    });

    it("should link federation importing only @key, so @requires stays Keyholder's directive", async () => {
      const { _service } = dataOf(await gql(server.url, plain.key, '{ _service { sdl } }'));
      const document = parse(_service.sdl as string);
      const directives = new Map(
        document.definitions.flatMap((d) =>
          d.kind === Kind.DIRECTIVE_DEFINITION ? [[d.name.value, d] as const] : [],
        ),
      );

      expect(_service.sdl).toContain(
        '@link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])',
      );
      expect(directives.get('requires')?.arguments?.map((a) => a.name.value)).toEqual([
        'scope',
        'anyOf',
        'allOf',
        'resource',
        'orSelf',
        'properties',
      ]);
      expect(directives.has('authenticated')).toBe(true);
      expect(directives.get('federation__requires')?.arguments?.map((a) => a.name.value)).toEqual([
        'fields',
      ]);
      // Parsed, not matched as text: @apollo/subgraph 2.14 prints directives on their own lines.
      const identityRequires = document.definitions
        .flatMap((d) =>
          d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Identity'
            ? (d.directives ?? [])
            : [],
        )
        .filter((d) => d.name.value === 'requires')
        .map((d) => [argument(d, 'scope'), argument(d, 'orSelf')]);
      expect(identityRequires).toEqual([['"identities:read"', '"parent.id"']]);
    });

    it('should refuse _service without an API key, as it refuses introspection', async () => {
      expectUnauthenticated(await gql(server.url, null, '{ _service { sdl } }'), /Bearer/);
      expectUnauthenticated(
        await gql(server.url, null, '{ __schema { types { name } } }'),
        /Bearer/,
      );
    });
  });

  describe('_entities', () => {
    it('should resolve identities for an admin, in order, with null for an unknown id', async () => {
      const unknown = randomUUID();

      const data = dataOf(
        await entities(server.adminKey, [
          identityRef(reader.id),
          identityRef(unknown),
          identityRef(plain.id),
        ]),
      );

      expect(data._entities).toEqual([
        { id: reader.id, name: reader.name, grants: [{ scope: { name: 'identities:read' } }] },
        null,
        { id: plain.id, name: plain.name, grants: [] },
      ]);
    });

    it('should let any caller resolve itself, its grants included', async () => {
      const data = dataOf(await entities(plain.key, [identityRef(plain.id)]));

      expect(data._entities).toEqual([{ id: plain.id, name: plain.name, grants: [] }]);
    });

    it('should deny another identity to a caller without identities:read: FORBIDDEN and no data', async () => {
      const response = await entities(plain.key, [identityRef(reader.id)]);

      const error = expectError(response, 'FORBIDDEN', 'requires scope "identities:read"');
      expect(error.path).toEqual(['_entities', 0]);
      expect(response.body.data?._entities).toEqual([null]);
      expect(JSON.stringify(response.body)).not.toContain(reader.name);
    });

    it('should deny an unknown id to that caller the same way, not telling whether it exists', async () => {
      const known = await entities(plain.key, [identityRef(reader.id)]);
      const unknown = await entities(plain.key, [identityRef(randomUUID())]);

      expect(errorsOf(unknown)).toEqual(errorsOf(known));
      expect(unknown.body.errors?.[0]?.message).toBe(known.body.errors?.[0]?.message);
      expect(unknown.body.data).toEqual(known.body.data);
    });

    it('should resolve the caller and deny the others within one call', async () => {
      const response = await entities(plain.key, [
        identityRef(reader.id),
        identityRef(plain.id),
        identityRef(server.adminId),
      ]);

      expect(response.body.data?._entities).toEqual([
        null,
        { id: plain.id, name: plain.name, grants: [] },
        null,
      ]);
      expect(errorsOf(response)).toEqual([
        { code: 'FORBIDDEN', path: ['_entities', 0] },
        { code: 'FORBIDDEN', path: ['_entities', 2] },
      ]);
    });

    it("should keep field guards: identities:read without grants:read reads names, not another's grants", async () => {
      const response = await gql(
        server.url,
        reader.key,
        `query($representations: [_Any!]!) {
          _entities(representations: $representations) { ... on Identity { id name } }
          grants: _entities(representations: $representations) { ... on Identity { grants { scope { name } } } }
        }`,
        { representations: [identityRef(server.adminId)] },
      );

      expect(response.body.data?._entities).toEqual([
        { id: server.adminId, name: expect.any(String) },
      ]);
      // Identity.grants is nullable: only it is null, the entity stands.
      expect(response.body.data?.grants).toEqual([{ grants: null }]);
      expect(errorsOf(response)).toEqual([{ code: 'FORBIDDEN', path: ['grants', 0, 'grants'] }]);
      expect(response.body.errors?.[0]?.message).toContain('requires scope "grants:read"');
    });

    it('should refuse _entities without an API key', async () => {
      expectUnauthenticated(await entities(null, [identityRef(plain.id)]), /Bearer/);
    });

    it('should answer malformed representations with BAD_USER_INPUT at their index, never a stack', async () => {
      const response = await entities(server.adminKey, [
        'Identity',
        { id: plain.id },
        { __typename: 'Grant', id: plain.id },
        { __typename: 'Identity' },
        { __typename: 'Identity', id: 'not-a-uuid' },
        identityRef(plain.id),
      ]);

      expect(response.body.data?._entities).toEqual([
        null,
        null,
        null,
        null,
        null,
        { id: plain.id, name: plain.name, grants: [] },
      ]);
      expect(errorsOf(response)).toEqual(
        [0, 1, 2, 3, 4].map((i) => ({ code: 'BAD_USER_INPUT', path: ['_entities', i] })),
      );
      expect(response.body.errors?.map((e) => e.message)).toEqual([
        'Representation 0 of _entities must be an object with "__typename" and the entity\'s key fields; got "Identity".',
        'Representation 1 of _entities has no "__typename" naming its entity type.',
        'Representation 2 of _entities names "Grant", which is not an entity of this subgraph (Identity).',
        'An Identity representation must carry its key "id" as a string.',
        '"not-a-uuid" is not a valid identity id.',
      ]);
      for (const error of response.body.errors ?? []) {
        expect(error.extensions).not.toHaveProperty('stacktrace');
        expect(error.extensions).not.toHaveProperty('exception');
      }
      expect(server.logs).toEqual([]);
    });

    it('should deny a malformed Identity representation to a caller who could not read it anyway', async () => {
      const response = await entities(plain.key, [{ __typename: 'Identity' }, 'Identity']);

      expect(errorsOf(response)).toEqual([
        { code: 'FORBIDDEN', path: ['_entities', 0] },
        { code: 'BAD_USER_INPUT', path: ['_entities', 1] },
      ]);
    });
  });
});
