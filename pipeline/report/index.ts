/**
 * The weather report: the curated data of a period as one self-contained HTML page, with
 * charts per location, a completeness grid and the latest run's status.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as charts from "./charts";
import * as html from "./html";
import * as data from "./report-data";
import * as runs from "./runs";

export const { renderSvg, temperatureSpec, precipitationSpec, completenessSpec, sourceRowsSpec, STATUS_COLOURS } =
  charts;
export const { renderReportHtml, escapeHtml, formatValue } = html;
export type { PageContext } from "./html";
export const { readReportData, MAX_REPORT_DAYS, TEMPERATURE_VARIABLE, PRECIPITATION_VARIABLE } = data;
export type {
  CellStatus,
  CompletenessCell,
  DayValues,
  ReportData,
  ReportOptions,
  SourceColumnSummary,
  SourceDay,
  SourceReport,
} from "./report-data";
export const {
  latestRun,
  newLocalRunId,
  parseRunRecord,
  readLocalRunRecords,
  runRecordKey,
  runThatWrote,
  writeLocalRunRecord,
} = runs;
export type { RunRecord, RunStatus } from "./runs";
