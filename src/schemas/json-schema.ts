// The subset of JSON Schema (draft 2020-12) that tcpwhy's published schemas use,
// and helpers that keep them terse. test/helpers/schema.ts validates with the
// same subset.
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: JsonType | JsonType[];
  enum?: Array<string | number | boolean | null>;
  const?: string | number | boolean | null;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

export const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** An object with exactly these members, all required unless listed in `optional`. */
export function object(properties: Record<string, JsonSchema>, description?: string, optional: string[] = []): JsonSchema {
  return {
    type: 'object',
    ...(description ? { description } : {}),
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

/** The schema, or null. */
export function nullable(s: JsonSchema): JsonSchema {
  if (s.enum) return { ...s, enum: [...s.enum, null] };
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  return { ...s, type: [...types, 'null'] };
}

export const str = (description?: string): JsonSchema => ({ type: 'string', ...(description ? { description } : {}) });
export const int = (description?: string): JsonSchema => ({ type: 'integer', ...(description ? { description } : {}) });
export const num = (description?: string): JsonSchema => ({ type: 'number', ...(description ? { description } : {}) });
export const bool = (description?: string): JsonSchema => ({ type: 'boolean', ...(description ? { description } : {}) });
export const oneOfStrings = (values: string[], description?: string): JsonSchema => ({ enum: values, ...(description ? { description } : {}) });
export const arrayOf = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', ...(description ? { description } : {}), items });
