/**
 * Catalog: the questions users ask of the curated data (example queries) and keeping its
 * partitions lean (compaction). (Values as plain constants: see ingest/index.ts.)
 */
import * as compact from "./compact";
import * as queries from "./queries";

export const { compactMonth } = compact;
export type { CompactionResult } from "./compact";
export const { exampleQueries } = queries;
