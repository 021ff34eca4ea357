import { expect } from "chai";
import {
  OpenMeteoApiError,
  OpenMeteoUnreachableError,
  decideRetry,
  fetchOpenMeteo,
  redactUrl,
  type AttemptFailure,
  type FetchOptions,
  type OpenMeteoRequestError,
  type RetryEvent,
  type RetryPolicy,
} from "../../pipeline/ingest/http";
import {
  OPEN_METEO_REASONS,
  errorAnswer,
  overloadedAnswer,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
} from "../../pipeline/local/fake-open-meteo";
import { rejectionOf } from "../support/rejection";

const POLICY: RetryPolicy = { retries: 3, timeoutMs: 10_000, baseDelayMs: 1_000, maxDelayMs: 15_000, budgetMs: 60_000 };
const STATE = { attempts: 1, elapsedMs: 0, nowMs: Date.UTC(2024, 4, 1, 12, 0, 30), random: 0.5 };
const status = (code: number, reason = "x"): AttemptFailure => ({ kind: "status", status: code, reason });

/** Small delays so a test with several retries takes milliseconds. */
const FAST: Pick<FetchOptions, "tuning"> = { tuning: { baseDelayMs: 10, maxDelayMs: 40, budgetMs: 5_000 } };

describe("http", () => {
  describe("decideRetry (the retry policy)", () => {
    it("never retries a 400 or another 4xx that is not a rate limit", () => {
      for (const code of [400, 401, 403, 404, 422]) {
        const decision = decideRetry(POLICY, status(code), STATE);
        expect(decision.retry, String(code)).to.equal(false);
        expect(decision.retry ? "" : decision.because).to.include("request itself is wrong");
      }
    });

    it("retries 5xx, 408, timeouts, network errors and empty bodies", () => {
      const failures: AttemptFailure[] = [
        status(500),
        status(502),
        status(503),
        status(504),
        status(408),
        { kind: "timeout", timeoutMs: 10_000 },
        { kind: "network", detail: "ECONNRESET" },
        { kind: "empty", status: 200 },
      ];
      for (const failure of failures)
        expect(decideRetry(POLICY, failure, STATE).retry, JSON.stringify(failure)).to.equal(true);
    });

    it("retries a concurrency 429 but not an hourly or daily one, which will not reset within the run", () => {
      expect(decideRetry(POLICY, status(429, OPEN_METEO_REASONS.concurrency), STATE).retry).to.equal(true);
      const hourly = decideRetry(POLICY, status(429, OPEN_METEO_REASONS.hourly), STATE);
      expect(hourly.retry ? "" : hourly.because).to.include("next full hour");
      const daily = decideRetry(POLICY, status(429, OPEN_METEO_REASONS.daily), STATE);
      expect(daily.retry ? "" : daily.because).to.include("00:00 UTC");
    });

    it("waits past the next full minute for a minutely 429", () => {
      // 12:00:30 -> the limit resets at 12:01:00, 30 s later; jitter adds up to 1 s.
      const decision = decideRetry(POLICY, status(429, OPEN_METEO_REASONS.minutely), { ...STATE, random: 0 });
      expect(decision).to.eql({ retry: true, delayMs: 30_000 });
    });

    it("does not retry an error object sent with a 200", () => {
      const decision = decideRetry(POLICY, { kind: "error-body", status: 200, reason: "x" }, STATE);
      expect(decision.retry).to.equal(false);
    });

    it("backs off exponentially with equal jitter, capped at maxDelayMs", () => {
      const delays = (random: number): number[] =>
        [1, 2, 3].map((attempts) => {
          const d = decideRetry(POLICY, status(503), { ...STATE, attempts, random });
          return d.retry ? d.delayMs : -1;
        });
      expect(delays(0)).to.eql([500, 1_000, 2_000]);
      expect(delays(0.999999)).to.eql([1_000, 2_000, 4_000]);
      const capped = decideRetry({ ...POLICY, retries: 10 }, status(503), { ...STATE, attempts: 8, random: 0.999999 });
      expect(capped).to.eql({ retry: true, delayMs: 15_000 });
    });

    it("stops after the configured number of retries", () => {
      expect(decideRetry(POLICY, status(503), { ...STATE, attempts: 3 }).retry).to.equal(true);
      const done = decideRetry(POLICY, status(503), { ...STATE, attempts: 4 });
      expect(done.retry ? "" : done.because).to.equal("all 3 retries were used");
    });

    it("stops when the wait and a useful attempt would overrun the budget", () => {
      const late = decideRetry(POLICY, status(503), { ...STATE, attempts: 1, random: 0, elapsedMs: 59_000 });
      expect(late.retry ? "" : late.because).to.match(/would overrun the 60\.0 s budget/);
      const minutely = decideRetry({ ...POLICY, budgetMs: 20_000 }, status(429, OPEN_METEO_REASONS.minutely), STATE);
      expect(minutely.retry).to.equal(false);
    });
  });

  describe("redactUrl", () => {
    it("hides an apikey parameter and leaves the rest", () => {
      expect(
        redactUrl("https://customer-api.open-meteo.com/v1/forecast?latitude=1&apikey=s3cret&longitude=2"),
      ).to.equal("https://customer-api.open-meteo.com/v1/forecast?latitude=1&apikey=***&longitude=2");
    });
  });

  describe("fetchOpenMeteo against the fake server", () => {
    let fake: FakeOpenMeteo | undefined;
    const start = async (respond?: (index: number) => FakeAnswer | undefined): Promise<FakeOpenMeteo> => {
      fake = await startFakeOpenMeteo(respond ? { respond: (r) => respond(r.index) } : {});
      return fake;
    };
    const query =
      "latitude=52.52,48.85&longitude=13.41,2.35&hourly=temperature_2m,precipitation&daily=temperature_2m_max&timezone=Europe/Berlin";

    afterEach(async () => {
      await fake?.close();
      fake = undefined;
    });

    it("returns the body bytes exactly as the server sent them (gzip decoded, never re-encoded)", async () => {
      const server = await start();
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 2_000, retries: 0 });
      const sent = server.requests[0]?.answer?.body;
      expect(sent, "the fake recorded what it sent").to.not.equal(undefined);
      expect(Buffer.from(result.bytes).equals(Buffer.from(sent ?? []))).to.equal(true);
      expect(result.status).to.equal(200);
      expect(result.attempts).to.equal(1);
      expect(result.contentType).to.include("application/json");
    });

    it("does not retry a 400 and reports the API's reason with what to fix", async () => {
      const server = await start();
      const url = `${server.forecastUrl}?latitude=52.52&longitude=13.41&hourly=lksdfj`;
      const error = await rejectionOf(fetchOpenMeteo(url, { timeoutMs: 2_000, retries: 3, ...FAST }));
      expect(error).to.be.instanceOf(OpenMeteoApiError);
      const api = error as OpenMeteoApiError;
      expect(api.status).to.equal(400);
      expect(api.reason).to.equal(
        "Cannot initialize SurfaceAndPressureVariable<ForecastSurfaceVariable, ForecastPressureVariable> from invalid String value lksdfj for key ",
      );
      expect(api.attempts).to.equal(1);
      expect(api.transient).to.equal(false);
      expect(api.message).to.equal(
        `Open-Meteo answered 400 for ${url}: ${api.reason} (check the variable names in hourlyVariables and dailyVariables: "lksdfj" is not one this endpoint knows)`,
      );
      expect(server.requests).to.have.lengthOf(1);
    });

    it("retries a 503 three times, then fails saying how often and for how long", async () => {
      const server = await start(() => overloadedAnswer());
      const url = `${server.forecastUrl}?${query}`;
      const error = await rejectionOf(fetchOpenMeteo(url, { timeoutMs: 2_000, retries: 3, ...FAST }));
      expect(server.requests).to.have.lengthOf(4);
      expect(error).to.be.instanceOf(OpenMeteoApiError);
      expect((error as OpenMeteoApiError).attempts).to.equal(4);
      expect((error as OpenMeteoApiError).transient).to.equal(true);
      expect(error.message).to.match(
        /^Open-Meteo answered 503 "The service is overloaded" 4 times over \d+\.\d s for http:\/\/127\.0\.0\.1:\d+\/v1\/forecast\?latitude=.*; the run will be retried$/,
      );
    });

    it("retries a concurrency 429 until the retries are used", async () => {
      const server = await start(() => rateLimitAnswer("concurrency"));
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 2_000, retries: 2, ...FAST }),
      );
      expect(server.requests).to.have.lengthOf(3);
      expect(error.message).to.include('answered 429 "Too many concurrent requests" 3 times');
    });

    it("does not retry a daily 429 and says when the limit resets", async () => {
      const server = await start(() => rateLimitAnswer("daily"));
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 2_000, retries: 3, ...FAST }),
      );
      expect(server.requests).to.have.lengthOf(1);
      expect(error.message).to.include("not retried: the daily limit resets at 00:00 UTC");
      expect((error as OpenMeteoRequestError).transient).to.equal(true);
    });

    it("waits for the next minute after a minutely 429, and gives up when the next one is beyond the budget", async () => {
      const server = await start(() => rateLimitAnswer("minutely"));
      // A clock 50 ms before a full minute: the first wait is short, the second would be ~60 s.
      const offset = Date.UTC(2024, 4, 1, 12, 0, 59, 950) - Date.now();
      const events: RetryEvent[] = [];
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, {
          timeoutMs: 2_000,
          retries: 3,
          tuning: { baseDelayMs: 10, maxDelayMs: 40, budgetMs: 10_000 },
          now: () => Date.now() + offset,
          random: () => 0,
          onRetry: (event) => events.push(event),
        }),
      );
      expect(server.requests).to.have.lengthOf(2);
      expect(events).to.have.lengthOf(1);
      expect(events[0]?.delayMs).to.be.within(1, 60);
      expect(error.message).to.match(
        /answered 429 "Minutely API request limit exceeded\. .*" 2 times over .* \(stopped: waiting \d+\.\d s for another attempt would overrun the 10\.0 s budget\); the run will be retried$/,
      );
    });

    it("succeeds after a transient 503 and returns the second answer's bytes", async () => {
      const server = await start((index) => (index === 0 ? overloadedAnswer() : undefined));
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 2_000, retries: 3, ...FAST });
      expect(server.requests).to.have.lengthOf(2);
      expect(result.attempts).to.equal(2);
      expect(Buffer.from(result.bytes).equals(Buffer.from(server.requests[1]?.answer?.body ?? []))).to.equal(true);
    });

    it("retries a server that never answers, then fails within the budget", async () => {
      const server = await start(() => ({ kind: "hang" }));
      const started = Date.now();
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 150, retries: 2, ...FAST }),
      );
      const elapsed = Date.now() - started;
      expect(server.requests).to.have.lengthOf(3);
      expect(error).to.be.instanceOf(OpenMeteoUnreachableError);
      expect(error.message).to.match(
        /^Open-Meteo did not answer within 0\.1 s 3 times over \d+\.\d s for http.*; the run will be retried$/,
      );
      expect(elapsed).to.be.within(3 * 150, 3 * 150 + 2 * 40 + 800);
    });

    it("never runs past the budget, even with retries left", async () => {
      const server = await start(() => ({ kind: "hang" }));
      const started = Date.now();
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, {
          timeoutMs: 200,
          retries: 20,
          tuning: { baseDelayMs: 10, maxDelayMs: 20, budgetMs: 700 },
        }),
      );
      expect(Date.now() - started).to.be.below(700 + 400);
      expect((error as OpenMeteoRequestError).attempts).to.be.below(21);
      expect(error.message).to.include("budget");
    });

    it("times out a body that stops half-way, and retries", async () => {
      const server = await start((index) => (index === 0 ? { kind: "stall", afterBytes: 100 } : undefined));
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 300, retries: 1, ...FAST });
      expect(result.attempts).to.equal(2);
      expect(new TextDecoder().decode(result.bytes)).to.match(/^\[\{"latitude":/);
    });

    it("retries a dropped connection, then succeeds", async () => {
      const server = await start((index) => (index === 0 ? { kind: "reset" } : undefined));
      const events: RetryEvent[] = [];
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, {
        timeoutMs: 2_000,
        retries: 2,
        ...FAST,
        onRetry: (e) => events.push(e),
      });
      expect(result.attempts).to.equal(2);
      expect(events[0]?.failure.kind).to.equal("network");
    });

    it("retries when the server is gone (connection refused), then fails as unreachable", async () => {
      const server = await start();
      const url = `${server.forecastUrl}?${query}`;
      await server.close();
      fake = undefined;
      const events: RetryEvent[] = [];
      const error = await rejectionOf(
        fetchOpenMeteo(url, { timeoutMs: 1_000, retries: 2, ...FAST, onRetry: (e) => events.push(e) }),
      );
      expect(events).to.have.lengthOf(2);
      expect(error).to.be.instanceOf(OpenMeteoUnreachableError);
      expect((error as OpenMeteoUnreachableError).attempts).to.equal(3);
      expect(error.message).to.match(/^Open-Meteo could not be reached \(.*ECONNREFUSED.*\) 3 times over .* for http/);
    });

    it("ends at once when a server the user named refuses on this machine, if told so", async () => {
      const server = await start();
      const url = `${server.forecastUrl}?${query}`;
      await server.close();
      fake = undefined;
      const events: RetryEvent[] = [];
      const error = await rejectionOf(
        fetchOpenMeteo(url, {
          timeoutMs: 1_000,
          retries: 3,
          tuning: { ...FAST.tuning, finalOnLoopbackRefusal: true },
          onRetry: (e) => events.push(e),
        }),
      );
      expect(events).to.deep.equal([]);
      expect(error).to.be.instanceOf(OpenMeteoUnreachableError);
      expect((error as OpenMeteoUnreachableError).attempts).to.equal(1);
      expect((error as OpenMeteoUnreachableError).transient).to.equal(false);
      expect(error.message).to.contain(`not retried: nothing listens on ${new URL(url).host} (ECONNREFUSED)`);
    });

    it("never retries a port fetch refuses to use", async () => {
      const events: RetryEvent[] = [];
      // 6000 (X11) is on the Fetch standard's blocked list: fetch fails before connecting.
      const error = await rejectionOf(
        fetchOpenMeteo(`http://127.0.0.1:6000/v1/forecast?${query}`, {
          timeoutMs: 1_000,
          retries: 3,
          ...FAST,
          onRetry: (e) => events.push(e),
        }),
      );
      expect(events).to.deep.equal([]);
      expect((error as OpenMeteoUnreachableError).transient).to.equal(false);
      expect(error.message).to.contain("not retried: fetch never connects to port 6000, one the Fetch standard blocks");
    });

    it("reports a non-JSON error page by its text, and retries a 502", async () => {
      const page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
      const server = await start(() => ({ kind: "text", status: 502, body: page, contentType: "text/html" }));
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 1_000, retries: 1, ...FAST }),
      );
      expect(server.requests).to.have.lengthOf(2);
      expect((error as OpenMeteoApiError).reason).to.equal(page);
    });

    it("treats a 200 carrying an Open-Meteo error object as an error, without retrying", async () => {
      const server = await start(() => errorAnswer(200, "Something went wrong"));
      const error = await rejectionOf(
        fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 1_000, retries: 3, ...FAST }),
      );
      expect(server.requests).to.have.lengthOf(1);
      expect(error).to.be.instanceOf(OpenMeteoApiError);
      expect(error.message).to.include('answered 200 with an error body "Something went wrong"');
    });

    it("returns a 200 body that is not JSON as it is: validating it is the transform's job", async () => {
      const server = await start(() => ({
        kind: "text",
        status: 200,
        body: '{"latitude":nan}',
        contentType: "application/json",
      }));
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, { timeoutMs: 1_000, retries: 0 });
      expect(new TextDecoder().decode(result.bytes)).to.equal('{"latitude":nan}');
    });

    it("sends every attempt through the injected fetch", async () => {
      const server = await start((index) => (index < 2 ? overloadedAnswer() : undefined));
      const seen: string[] = [];
      const countingFetch: typeof fetch = (input, init) => {
        seen.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      };
      const result = await fetchOpenMeteo(`${server.forecastUrl}?${query}`, {
        timeoutMs: 1_000,
        retries: 3,
        ...FAST,
        fetch: countingFetch,
      });
      expect(result.attempts).to.equal(3);
      expect(seen).to.have.lengthOf(3);
      expect(server.requests).to.have.lengthOf(3);
    });

    it("rejects nonsensical options before sending anything", async () => {
      const server = await start();
      const url = `${server.forecastUrl}?${query}`;
      expect((await rejectionOf(fetchOpenMeteo(url, { timeoutMs: 0, retries: 1 }))).message).to.equal(
        "http.timeoutMs is 0; it must be more than 0",
      );
      expect((await rejectionOf(fetchOpenMeteo(url, { timeoutMs: 100, retries: -1 }))).message).to.match(
        /http.retries is -1/,
      );
      expect(server.requests).to.have.lengthOf(0);
    });
  });
});
