/**
 * The window events of an accepted location's history, as the backfill state machine sends
 * them to ingest (`{from, to, locations}`) and transform (`{from, to, keys, locations}`): a bad
 * one is refused with the value and the form expected, before anything is fetched or written.
 */
import { expect } from "chai";
import { parseWindowEvent } from "../../pipeline/ingest/handler";
import { parseTransformEvent } from "../../pipeline/transform";
import { parseBackfillEvent } from "../../pipeline/backfill";

describe("history window events", () => {
  it("ingest takes a window's locations, each with a name and coordinates in range", () => {
    const porto = { name: "porto", latitude: 41.15, longitude: -8.61 };
    expect(parseWindowEvent({ from: "2026-01-01", to: "2026-01-31", locations: [porto] })).to.deep.equal({
      from: "2026-01-01",
      to: "2026-01-31",
      locations: [porto],
    });
    expect(parseWindowEvent({ from: "2026-01-01", to: "2026-01-31" })).to.deep.equal({
      from: "2026-01-01",
      to: "2026-01-31",
    });
    expect(() => parseWindowEvent({ from: "2026-01-01", to: "2026-01-31", locations: [] })).to.throw(
      /the window's locations are \[\]; send \[\{"name"/,
    );
    expect(() =>
      parseWindowEvent({ from: "2026-01-01", to: "2026-01-31", locations: [{ ...porto, latitude: 91 }] }),
    ).to.throw(
      /locations\[0\] is \{"name":"porto","latitude":91,"longitude":-8.61\}; it needs a name, a latitude from -90 to 90/,
    );
    expect(() =>
      parseWindowEvent({ from: "2026-01-01", to: "2026-01-31", locations: [{ latitude: 1, longitude: 2 }] }),
    ).to.throw(/locations\[0\].*needs a name/);
  });

  it("transform takes the names of the locations to add, and refuses anything else", () => {
    const keys = ["open-meteo/archive/backfill/2026-01-01_2026-01-31/0000-abc.json"];
    expect(
      parseTransformEvent({ from: "2026-01-01", to: "2026-01-31", keys, locations: [{ name: "porto", latitude: 1 }] }),
    ).to.deep.equal({ from: "2026-01-01", to: "2026-01-31", keys, locations: [{ name: "porto" }] });
    expect(() => parseTransformEvent({ from: "2026-01-01", to: "2026-01-31", keys, locations: "porto" })).to.throw(
      /the transform event's locations are "porto"; a location backfill's window names them as \[\{"name": \.\.\.\}/,
    );
  });

  it("the backfill takes {request} alone", () => {
    expect(parseBackfillEvent({ request: "applications/backfill-requests/loc-1.json" })).to.deep.equal({
      request: "applications/backfill-requests/loc-1.json",
    });
    expect(() => parseBackfillEvent({ request: "x.json", from: "2026-01-01" })).to.throw(
      /a location backfill is \{"request": "<key of its request object>"\} alone/,
    );
    expect(() => parseBackfillEvent({ request: 7 })).to.throw(/a location backfill is/);
  });
});
