/**
 * A local stand-in for the Open-Meteo API: a real HTTP server on 127.0.0.1 that answers
 * /v1/forecast and /v1/archive for any coordinates and dates with deterministic synthetic
 * weather, in the byte format of the real server (compact JSON, key order, fixed decimals per
 * unit, `location_id` from the second element of a multi-location array). Tests can script
 * any answer per request (recorded 429/503 bodies, HTML, `nan`, hangs, resets) and read back
 * every request and the exact bytes sent. Used by `npm start`, the Lambda tests and fault tests.
 *
 * Behaviour copied from the real API (open-meteo/open-meteo, Sources/App/Helper/ForecastapiQuery.swift
 * and ForecastapiResult.swift, plus the recorded bodies in shared/open-meteo):
 * - `utc_offset_seconds` is the zone's offset at REQUEST time (the fake's clock), one value for
 *   the whole body; `time` labels are local wall clock with that fixed offset, 24 per day, so a
 *   DST change inside the range is not reflected (as in the recorded Adelaide archive body).
 * - values are printed with a fixed number of decimals per variable; integers (humidity,
 *   weather code, direction) without decimals; a missing value is `null`.
 * - the archive lags real time: hours later than `archiveDelayDays` before the clock are `null`.
 * - unknown parameters are ignored; bad ones give 400 `{"error":true,"reason":...}`.
 * - weight is counted per request as the server counts it (queryWeight); with `quota` the fake
 *   refuses requests with the minutely, hourly or daily 429 once a period's usage reaches its
 *   limit, as the free API's rate limiter does.
 * Choices of the fake: `timezone=auto` resolves to a whole-hour zone from the longitude
 * (Etc/GMT-1 for 15°E); coordinates snap to a 0.02° (forecast) or 0.1° (archive) grid in
 * float32, like the real grid cells; elevation and `generationtime_ms` are derived from the
 * request so that the same request and clock give the same bytes.
 */
export {
  errorAnswer,
  OPEN_METEO_REASONS,
  overloadedAnswer,
  rateLimitAnswer,
  type FakeAnswer,
  type FakeRequest,
} from "./faults";
export { answerOpenMeteoQuery, formatFloat32, queryWeight, type RenderedAnswer, type RenderOptions } from "./response";
export {
  FREE_TIER_QUOTA,
  startFakeOpenMeteo,
  type FakeOpenMeteo,
  type FakeOpenMeteoOptions,
  type FakeUsage,
  type RecordedRequest,
} from "./server";
export { listFakeVariables } from "./weather";
export {
  FAKE_EXTRA_FIELD,
  FAKE_SOURCE_HOURS,
  FAKE_STATIONS,
  fakeFile,
  fakeSourceRecords,
  isNotModified,
  renderFakeSourceFile,
  type FakeSourceFile,
} from "./sources";
