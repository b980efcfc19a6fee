import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import { isPromiseLike } from 'keyholder-directive/directive/operation-state.js';
import { failSpan, tracer, tracingOn } from './tracing.js';

/**
 * `schema` with a span around each query and mutation root field while tracing is on
 * (`keyholder.resolve Query.me`, attribute `graphql.field.coordinate`): the guard, the resolver and
 * the statements it runs nest under it. A denied field (its value an error) marks its span
 * failed. With tracing off, each root field pays one boolean check.
 */
export function traceRootFields(schema: GraphQLSchema): GraphQLSchema {
  const roots = new Set([schema.getQueryType()?.name, schema.getMutationType()?.name]);
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (config, fieldName, typeName) => {
      if (!roots.has(typeName)) return config;
      const resolve = config.resolve ?? defaultFieldResolver;
      const coordinate = `${typeName}.${fieldName}`;
      const name = `keyholder.resolve ${coordinate}`;
      const attributes = { 'graphql.field.coordinate': coordinate };
      return {
        ...config,
        resolve: (source, args, context, info) => {
          if (!tracingOn()) return resolve(source, args, context, info);
          return tracer().startActiveSpan(name, { attributes }, (span) => {
            const settle = (value: unknown) => {
              if (value instanceof Error) failSpan(span, value);
              span.end();
              return value;
            };
            try {
              const result = resolve(source, args, context, info);
              if (!isPromiseLike(result)) return settle(result);
              return Promise.resolve(result).then(settle, (error: unknown) => {
                failSpan(span, error);
                span.end();
                throw error;
              });
            } catch (error) {
              failSpan(span, error);
              span.end();
              throw error;
            }
          });
        },
      };
    },
  });
}
