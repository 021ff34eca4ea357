import { expect } from "chai";
import {
  parseDeadLetterBody,
  redriveDeadLetters,
  redriveExecutionName,
  type DeadLetter,
  type RedriveClients,
  type RedriveInput,
  type StartedRun,
} from "../../pipeline/operations/redrive";

/**
 * An in-memory queue with SQS's receive semantics: a received message is hidden until it is
 * deleted or its visibility ends (expireVisibility), and each receive gives a new receipt handle.
 */
class MemoryQueue {
  private readonly messages: { id: string; body: string; visible: boolean; receipt?: string }[] = [];
  private receipts = 0;

  constructor(bodies: readonly string[] = []) {
    bodies.forEach((body) => this.send(body));
  }

  send(body: string): string {
    const id = `m${this.messages.length + 1}`;
    this.messages.push({ id, body, visible: true });
    return id;
  }

  /** Receives up to `max` visible messages; with hideSeconds 0 they stay visible, as in SQS. */
  receive(max: number, hideSeconds = 30): DeadLetter[] {
    const batch = this.messages.filter((m) => m.visible).slice(0, max);
    for (const m of batch) {
      m.visible = hideSeconds === 0;
      m.receipt = `r${++this.receipts}`;
    }
    return batch.map((m) => ({ messageId: m.id, receiptHandle: m.receipt ?? "", body: m.body }));
  }

  /** ChangeMessageVisibility to 0: a received message is visible again at once. */
  release(receiptHandle: string): void {
    const message = this.messages.find((m) => m.receipt === receiptHandle);
    if (!message) throw new Error(`no message has receipt ${receiptHandle}`);
    message.visible = true;
  }

  get visibleCount(): number {
    return this.messages.filter((m) => m.visible).length;
  }

  remove(receiptHandle: string): void {
    const index = this.messages.findIndex((m) => m.receipt === receiptHandle);
    if (index === -1) throw new Error(`no message has receipt ${receiptHandle}`);
    this.messages.splice(index, 1);
  }

  expireVisibility(): void {
    for (const m of this.messages) m.visible = true;
  }

  get bodies(): string[] {
    return this.messages.map((m) => m.body);
  }
}

/** Step Functions in memory: names are unique, as in the real service. */
class MemoryStateMachine {
  readonly started: { input: RedriveInput; name: string }[] = [];
  failFor = new Set<string>();

  start(input: RedriveInput, name: string): StartedRun {
    if (this.failFor.has(input.date ?? "")) throw new Error(`AccessDenied for ${input.date}`);
    const executionArn = `arn:aws:states:eu-central-1:123456789012:execution:run:${name}`;
    if (this.started.some((s) => s.name === name)) return { executionArn, alreadyStarted: true };
    this.started.push({ input, name });
    return { executionArn, alreadyStarted: false };
  }
}

function clientsOf(
  queue: MemoryQueue,
  machine: MemoryStateMachine,
  events: string[] = [],
  options: { failDelete?: boolean } = {},
): RedriveClients {
  return {
    receive: (max, hideSeconds) => {
      events.push(`receive ${max}`);
      return Promise.resolve(queue.receive(max, hideSeconds));
    },
    release: (messages) => {
      events.push(`release ${messages.map((m) => m.messageId).join(",")}`);
      messages.forEach((m) => queue.release(m.receiptHandle));
      return Promise.resolve();
    },
    startRun: (input, name) => {
      events.push(`start ${input.date ?? "scheduled"}`);
      return Promise.resolve().then(() => machine.start(input, name));
    },
    remove: (message) => {
      events.push(`delete ${message.messageId}`);
      if (options.failDelete) return Promise.reject(new Error("throttled"));
      queue.remove(message.receiptHandle);
      return Promise.resolve();
    },
    log: () => undefined,
  };
}

const body = (date: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ date, ...extra });

describe("redriving the dead-letter queue", () => {
  it("starts each date once, oldest first, with input {date}, and deletes each message only after its start", async () => {
    const queue = new MemoryQueue([
      body("2025-07-18", { keys: ["open-meteo/forecast/date=2025-07-18/0000-aaaaaaaaaaaa.json"] }),
      body("2025-07-16"),
      body("2025-07-18"),
    ]);
    const machine = new MemoryStateMachine();
    const events: string[] = [];
    const result = await redriveDeadLetters(clientsOf(queue, machine, events));

    expect(machine.started.map((s) => s.input)).to.deep.equal([{ date: "2025-07-16" }, { date: "2025-07-18" }]);
    expect(events).to.eql([
      "receive 10",
      "receive 10",
      "start 2025-07-16",
      "delete m2",
      "start 2025-07-18",
      "delete m1",
      "delete m3",
    ]);
    expect(queue.bodies).to.eql([]);
    expect(result).to.deep.include({ received: 3, deleted: 3, undeleted: [], unreadable: [] });
    expect(result.runs.map((r) => [r.date, r.messages, r.alreadyStarted])).to.eql([
      ["2025-07-16", 1, false],
      ["2025-07-18", 2, false],
    ]);
  });

  it("redrives a failed warehouse load as a load-only run, unless a full run of the date is redriven too", async () => {
    expect(parseDeadLetterBody(body("2025-07-18", { loadOnly: true }))).to.deep.equal({
      date: "2025-07-18",
      loadOnly: true,
    });
    // Only `true` means load only; anything else is a full run of the date.
    expect(parseDeadLetterBody(body("2025-07-18", { loadOnly: "yes" }))).to.deep.equal({ date: "2025-07-18" });
    const queue = new MemoryQueue([
      body("2025-07-17", { loadOnly: true }),
      body("2025-07-18", { loadOnly: true }),
      body("2025-07-18"),
    ]);
    const machine = new MemoryStateMachine();
    await redriveDeadLetters(clientsOf(queue, machine));
    expect(machine.started.map((s) => s.input)).to.deep.equal([
      { date: "2025-07-17", loadOnly: true },
      { date: "2025-07-18" },
    ]);
    expect(machine.started[0]!.name).to.match(/^redrive-2025-07-17-load-[0-9a-f]{16}$/);
    expect(queue.bodies).to.eql([]);
  });

  it("leaves a date's messages in the queue when its run cannot start, and goes on with the others", async () => {
    const queue = new MemoryQueue([body("2025-07-17"), body("2025-07-18"), body("2025-07-17")]);
    const machine = new MemoryStateMachine();
    machine.failFor.add("2025-07-17");
    const result = await redriveDeadLetters(clientsOf(queue, machine));
    expect(queue.bodies).to.eql([body("2025-07-17"), body("2025-07-17")]);
    expect(machine.started.map((s) => s.input.date)).to.eql(["2025-07-18"]);
    expect(result.runs[0]).to.deep.equal({ date: "2025-07-17", messages: 2, error: "AccessDenied for 2025-07-17" });
    expect(result.deleted).to.equal(1);
  });

  it("is idempotent: a redrive after a failed delete finds the run it started and only deletes", async () => {
    const queue = new MemoryQueue([body("2025-07-18")]);
    const machine = new MemoryStateMachine();
    const first = await redriveDeadLetters(clientsOf(queue, machine, [], { failDelete: true }));
    expect(first.undeleted).to.deep.equal([{ messageId: "m1", reason: "throttled" }]);
    expect(queue.bodies).to.have.lengthOf(1);

    queue.expireVisibility();
    const second = await redriveDeadLetters(clientsOf(queue, machine));
    expect(machine.started).to.have.lengthOf(1);
    expect(second.runs[0]?.alreadyStarted).to.equal(true);
    expect(queue.bodies).to.eql([]);
  });

  it("reads at most maxMessages per call and leaves the rest for the next", async () => {
    const dates = Array.from({ length: 25 }, (_, i) => `2025-06-${String(i + 1).padStart(2, "0")}`);
    const queue = new MemoryQueue(dates.map((d) => body(d)));
    const machine = new MemoryStateMachine();
    const events: string[] = [];
    const result = await redriveDeadLetters(clientsOf(queue, machine, events), { maxMessages: 12 });
    expect(events.filter((e) => e.startsWith("receive"))).to.eql(["receive 10", "receive 2"]);
    expect(result.received).to.equal(12);
    expect(machine.started).to.have.lengthOf(12);
    expect(queue.bodies).to.have.lengthOf(13);
  });

  it("stops when the queue hands back messages it already gave (a visibility timeout shorter than the redrive)", async () => {
    const queue = new MemoryQueue([body("2025-07-18")]);
    const machine = new MemoryStateMachine();
    let receives = 0;
    const clients: RedriveClients = {
      ...clientsOf(queue, machine),
      receive: () => {
        receives++;
        queue.expireVisibility();
        return Promise.resolve(queue.receive(10));
      },
    };
    const result = await redriveDeadLetters(clients);
    expect(receives).to.equal(2);
    expect(result.received).to.equal(1);
  });

  it("leaves unreadable messages in the queue and says why; a body without a date redrives a scheduled run", async () => {
    const queue = new MemoryQueue([
      "not json",
      "[1]",
      body("2025-02-30"),
      JSON.stringify({ date: 5 }),
      "{}",
      JSON.stringify({ date: null }),
    ]);
    const machine = new MemoryStateMachine();
    const result = await redriveDeadLetters(clientsOf(queue, machine));
    expect(result.unreadable).to.deep.equal([
      { messageId: "m1", reason: 'the body is not JSON: "not json"' },
      { messageId: "m2", reason: 'the body is "[1]"; it must be a JSON object like {"date":"YYYY-MM-DD"}' },
      { messageId: "m3", reason: 'its date is "2025-02-30"; it must be a calendar date written YYYY-MM-DD' },
      { messageId: "m4", reason: 'its date is 5; it must be "YYYY-MM-DD"' },
    ]);
    expect(machine.started.map((s) => s.input)).to.deep.equal([{}]);
    expect(queue.bodies).to.eql(["not json", "[1]", body("2025-02-30"), JSON.stringify({ date: 5 })]);
  });

  it("starts and deletes nothing on a dry run", async () => {
    const queue = new MemoryQueue([body("2025-07-18")]);
    const machine = new MemoryStateMachine();
    const result = await redriveDeadLetters(clientsOf(queue, machine), { dryRun: true });
    expect(result.runs).to.deep.equal([{ date: "2025-07-18", messages: 1 }]);
    expect(machine.started).to.eql([]);
    expect(queue.bodies).to.have.lengthOf(1);
  });

  it("leaves every message visible after a dry run, so a real redrive right after sees them all", async () => {
    const dates = Array.from({ length: 23 }, (_, i) => `2025-06-${String(i + 1).padStart(2, "0")}`);
    const queue = new MemoryQueue(dates.map((d) => body(d)));
    const machine = new MemoryStateMachine();
    const events: string[] = [];
    const dry = await redriveDeadLetters(clientsOf(queue, machine, events), { dryRun: true });
    // Every message counted once, though the queue is longer than one receive.
    expect(dry).to.deep.include({ received: 23, deleted: 0, released: 23, dryRun: true });
    expect(dry.runs).to.have.lengthOf(23);
    expect(events.filter((e) => e.startsWith("start") || e.startsWith("delete"))).to.eql([]);
    expect(queue.visibleCount).to.equal(23);

    const real = await redriveDeadLetters(clientsOf(queue, machine));
    expect(real).to.deep.include({ received: 23, deleted: 23, released: 0, dryRun: false });
  });

  it("hands back at once the messages a redrive leaves in the queue", async () => {
    const queue = new MemoryQueue([body("2025-07-17"), "not json", body("2025-07-18")]);
    const machine = new MemoryStateMachine();
    machine.failFor.add("2025-07-17");
    const events: string[] = [];
    const result = await redriveDeadLetters(clientsOf(queue, machine, events));
    expect(result.released).to.equal(2);
    expect(events.at(-1)).to.equal("release m1,m2");
    expect(queue.visibleCount).to.equal(2);
  });

  it("names executions by date and messages, within Step Functions' name rules", () => {
    const name = redriveExecutionName({ date: "2025-07-18" }, ["b", "a"]);
    expect(name).to.equal(redriveExecutionName({ date: "2025-07-18" }, ["a", "b"]));
    expect(name).to.match(/^redrive-2025-07-18-[0-9a-f]{16}$/);
    expect(name.length).to.be.at.most(80);
    expect(redriveExecutionName({}, ["a"])).to.match(/^redrive-scheduled-/);
    expect(parseDeadLetterBody(body("2025-07-18", { keys: [] }))).to.deep.equal({ date: "2025-07-18" });
  });

  it("redrives a failed backfill window with its {from, to}, once, under a name of its own", async () => {
    const window = JSON.stringify({ from: "2015-01-01", to: "2015-06-23" });
    const queue = new MemoryQueue([window, body("2025-07-16"), window]);
    const machine = new MemoryStateMachine();
    const result = await redriveDeadLetters(clientsOf(queue, machine));
    expect(machine.started.map((s) => s.input)).to.deep.equal([
      { date: "2025-07-16" },
      { from: "2015-01-01", to: "2015-06-23" },
    ]);
    expect(machine.started[1]!.name).to.match(/^redrive-backfill-2015-01-01-2015-06-23-[0-9a-f]{16}$/);
    expect(result.deleted).to.equal(3);
    expect(() => parseDeadLetterBody(JSON.stringify({ from: "2015-01-01" }))).to.throw(
      /a backfill window needs "from" and "to"/,
    );
  });

  it("rejects a maxMessages below 1", async () => {
    let error: unknown;
    await redriveDeadLetters(clientsOf(new MemoryQueue(), new MemoryStateMachine()), { maxMessages: 0 }).catch(
      (e: unknown) => (error = e),
    );
    expect(String(error)).to.equal("RangeError: maxMessages is 0; it must be a whole number, 1 or more");
  });
});
