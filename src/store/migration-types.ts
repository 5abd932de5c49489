import type { Kysely } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** A versioned schema change. Names are prefixed by module number so modules never collide. */
export interface BulkheadMigration {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}
