import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { NAME_RULES, PhysicalNameError, nameProblem, physicalName, type NameKind } from "../../pipeline/infra/names";
import { PROJECT_DIR, mockPhysicalName, type PlannedResource } from "../../pipeline/local/plan";
import { AWS_NAME_RULES, RESOURCE_NAMING, brokenRule } from "../support/aws-name-rules";
import { plansOf } from "../support/plans";

const PROJECT = "weather-pipeline";
const KINDS = Object.keys(NAME_RULES) as NameKind[];

/** Every character Pulumi allows in a stack name, 100 of them: upper case, `_`, `.` and `-`. */
const LONGEST = "Ab_.-".repeat(20);
/** Stack names Pulumi accepts (^[A-Za-z0-9_.-]{1,100}$) that today's names could not all deploy. */
const HOSTILE = [LONGEST, "FeatureX", "featurex", "my_stack", "a.b.c", "-x", "A"] as const;
/** A lowercase stack name of 24 characters: the longest that deploys today; its names must not change. */
const LONGEST_TODAY = "qa-feature-branch-number";

/** Where names are made: each kind with the names the program gives it (auto-named or not). */
function sampleNames(stack: string): { kind: NameKind; name: string; autoNamed: boolean }[] {
  const p = `${PROJECT}-${stack}`;
  const auto = (kind: NameKind, name: string) => ({ kind, name, autoNamed: true });
  const explicit = (kind: NameKind, name: string) => ({ kind, name, autoNamed: false });
  return [
    ...["raw", "curated", "query-results", "access-logs"].map((s) => auto("s3-bucket", `${p}-${s}`)),
    auto("iam-role", `${p}-transform-role`),
    auto("iam-role-policy", `${p}-transform-policy`),
    auto("sqs-queue", `${p}-alerts-schedule-dlq`),
    auto("sns-topic", `${p}-alerts-topic`),
    auto("sfn-state-machine", `${p}-run`),
    auto("scheduler-schedule", `${p}-daily`),
    auto("cloudwatch-alarm", `${p}-alarm-schedule-dlq-waiting`),
    auto("secretsmanager-secret", `${p}-api-key`),
    // The applications drop zone: the longest of each kind it names.
    auto("s3-bucket", `${p}-applications`),
    auto("iam-role", `${p}-intake-role`),
    auto("iam-role", `${p}-submitter`),
    auto("iam-role-policy", `${p}-submitter-policy`),
    auto("sqs-queue", `${p}-intake-dlq`),
    auto("sns-topic", `${p}-notices`),
    auto("eventbridge-rule", `${p}-incoming`),
    auto("cloudwatch-alarm", `${p}-alarm-intake-dlq-waiting`),
    // What starts an accepted location's history: the longest of each kind it names.
    auto("eventbridge-rule", `${p}-history`),
    auto("iam-role", `${p}-history-role`),
    auto("iam-role-policy", `${p}-history-policy`),
    auto("sqs-queue", `${p}-history-dlq`),
    auto("cloudwatch-alarm", `${p}-alarm-history-dlq-waiting`),
    explicit("lambda-function", `${p}-intake`),
    explicit("log-group", `/aws/lambda/${p}-intake`),
    explicit("lambda-function", `${p}-transform`),
    explicit("log-group", `/aws/lambda/${p}-transform`),
    explicit("athena-workgroup", `${p}-query`),
    explicit("glue-database", p),
  ];
}

/** Whether a kind can be auto-named: Pulumi's suffix starts with "-". */
function autoNamedOptions(kind: NameKind): boolean[] {
  return AWS_NAME_RULES[kind].pattern.test("a-b") ? [false, true] : [false];
}

/** The name AWS sees: an explicit name as given; an auto-name as Pulumi makes it. */
function asAwsSees(kind: NameKind, name: string, autoNamed: boolean): string {
  if (!autoNamed) return name;
  // Pulumi adds "-" and 7 random hex characters; pulumi-aws lower-cases bucket names first.
  return `${kind === "s3-bucket" ? name.toLowerCase() : name}-a1b2c3d`;
}

describe("physical names", () => {
  describe("physicalName", () => {
    it("keeps every name of today's deployable stacks byte for byte", () => {
      for (const stack of ["dev", "staging", "prod", "sandbox", "a", "x-", "a--b", "2026", LONGEST_TODAY]) {
        for (const { kind, name, autoNamed } of sampleNames(stack)) {
          const expected = kind === "glue-database" ? name.replaceAll("-", "_") : name;
          expect(physicalName(kind, name, { autoNamed }), `${kind} of ${stack}`).to.equal(expected);
        }
      }
    });

    it("fits every kind's AWS rules for hostile names, auto-named or not", () => {
      const inputs = [...HOSTILE.map((s) => `${PROJECT}-${s}`), "x".repeat(600), "-Ab_C.d-", "a"];
      for (const kind of KINDS) {
        for (const autoNamed of autoNamedOptions(kind)) {
          for (const input of inputs) {
            const name = physicalName(kind, input, { autoNamed });
            const problem = brokenRule(AWS_NAME_RULES[kind], asAwsSees(kind, name, autoNamed));
            expect(problem, `${kind}${autoNamed ? " (auto-named)" : ""} of ${JSON.stringify(input)}`).to.equal(
              undefined,
            );
          }
        }
      }
    });

    it("gives explicit names that normalize alike different names, ignoring case where AWS does", () => {
      const colliding = [
        ["FeatureX", "featurex", "FEATUREX"],
        ["my_stack", "my-stack", "my.stack"],
        ["a.b.c", "a-b-c", "a_b_c"],
        // Share 90 characters: cut to fit, only the hash tells them apart.
        [`${"p".repeat(90)}-one`, `${"p".repeat(90)}-two`],
      ];
      for (const kind of KINDS) {
        for (const group of colliding) {
          const names = group.map((s) => physicalName(kind, `${PROJECT}-${s}`));
          // Where AWS tells names apart by case (SQS), FeatureX and featurex may keep theirs.
          const folded = names.map((n) => (AWS_NAME_RULES[kind].caseInsensitive ? n.toLowerCase() : n));
          expect(new Set(folded).size, `${kind}: ${names.join(", ")}`).to.equal(group.length);
        }
      }
    });

    it("gives auto-named names that normalize alike different logical names (Pulumi's random suffix does the rest)", () => {
      for (const kind of KINDS.filter((k) => autoNamedOptions(k).includes(true))) {
        const names = ["FeatureX", "featurex", "my_stack", "my-stack", "a.b.c", "a-b-c"].map((s) =>
          physicalName(kind, `${PROJECT}-${s}-run`, { autoNamed: true }),
        );
        expect(new Set(names).size, `${kind}: ${names.join(", ")}`).to.equal(names.length);
      }
    });

    it("refuses to auto-name a kind whose characters exclude Pulumi's '-'", () => {
      expect(() => physicalName("glue-database", "weather-pipeline-dev", { autoNamed: true })).to.throw(
        PhysicalNameError,
        /Glue database \(queried by Athena\) cannot be auto-named: Pulumi's suffix starts with "-"/,
      );
    });

    it("marks a changed name with a stable hash of the original, and keeps its start and end", () => {
      const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 8);
      expect(physicalName("glue-database", "weather-pipeline-FeatureX")).to.equal(
        `weather_pipeline_featurex_${hash("weather-pipeline-FeatureX")}`,
      );
      expect(physicalName("lambda-function", "weather-pipeline-a.b.c-plan")).to.equal(
        `weather-pipeline-a-b-c-plan-${hash("weather-pipeline-a.b.c-plan")}`,
      );
      const long = `${PROJECT}-${"s".repeat(100)}-transform-role`;
      const role = physicalName("iam-role", long, { autoNamed: true });
      expect(role).to.have.length(64 - 8);
      expect(role.startsWith("weather-pipeline-sss")).to.equal(true);
      expect(role.endsWith("-transform-role")).to.equal(true);
      expect(role).to.contain(`-${hash(long)}-`);
      expect(physicalName("iam-role", long, { autoNamed: true })).to.equal(role);
    });

    it("maps weather-pipeline-<stack> to Glue's underscores only where nothing can meet", () => {
      expect(physicalName("glue-database", "weather-pipeline-dev")).to.equal("weather_pipeline_dev");
      expect(physicalName("glue-database", "weather-pipeline--x")).to.equal("weather_pipeline__x");
      // my_stack and my-stack would both map to weather_pipeline_my_stack.
      expect(physicalName("glue-database", "weather-pipeline-my-stack")).to.equal("weather_pipeline_my_stack");
      expect(physicalName("glue-database", "weather-pipeline-my_stack")).to.match(
        /^weather_pipeline_my_stack_[0-9a-f]{8}$/,
      );
    });

    it("refuses, naming the rule and its source, a name no hash can repair", () => {
      const messageOf = (make: () => string) => {
        try {
          make();
        } catch (error) {
          expect(error).to.be.instanceOf(PhysicalNameError);
          return (error as Error).message;
        }
        throw new Error("expected a PhysicalNameError");
      };
      const bucket = messageOf(() => physicalName("s3-bucket", "sthree-weather"));
      expect(bucket).to.contain('cannot make a S3 bucket name from "sthree-weather"');
      expect(bucket).to.contain("it must not start with sthree-, which S3 reserves");
      expect(bucket).to.contain("bucketnamingrules.html");
      const cluster = messageOf(() => physicalName("rds-cluster", "2026-weather"));
      expect(cluster).to.contain("it must start with a letter");
      expect(cluster).to.contain("API_CreateDBCluster.html");
    });

    it("says why a name does not fit", () => {
      expect(nameProblem("iam-role", `${"r".repeat(57)}`, { autoNamed: true })).to.equal(
        "it is 57 characters; at most 56 characters before Pulumi's suffix fit",
      );
      expect(nameProblem("s3-bucket", "weather-pipeline-my_stack-raw", { autoNamed: true })).to.equal(
        'it contains "_"',
      );
      expect(nameProblem("s3-bucket", "weather-pipeline-FeatureX-raw", { autoNamed: true })).to.equal(undefined);
      expect(nameProblem("lambda-function", "weather-pipeline-FeatureX-plan")).to.contain("does not tell names apart");
      expect(nameProblem("rds-cluster", "weather-pipeline-")).to.equal("it must not end with a hyphen");
    });
  });

  describe("of every resource the plan declares, for hostile stack names", function () {
    // Eight plans in two child processes (ts-node and @pulumi/aws load once per process).
    this.timeout(600_000);
    const plans = new Map<string, PlannedResource[]>();
    const stacks = [...HOSTILE, LONGEST_TODAY];

    before(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "names-"));
      const configFile = path.join(dir, "Pulumi.hostile.yaml");
      const base = readFileSync(path.join(PROJECT_DIR, "Pulumi.prod.yaml"), "utf8").trimEnd();
      // prod logs access already; alarms, a mail address and an API key switch on the rest.
      writeFileSync(
        configFile,
        `${base}\n  weather-pipeline:alertEmail: ops@example.com\n  weather-pipeline:apiKey: { secure: om-key }\n`,
      );
      const halves = [stacks.slice(0, 4), stacks.slice(4)];
      for (const part of await Promise.all(halves.map((half) => plansOf(half, configFile)))) {
        for (const [stack, plan] of part) plans.set(stack, plan);
      }
    });

    /** Every named resource of a plan, with the name AWS sees and the scope it is unique in. */
    function awsNames(plan: readonly PlannedResource[]) {
      return plan.flatMap((r) => {
        const naming = RESOURCE_NAMING[r.type];
        if (!naming) return [];
        const explicit = r.inputs[naming.input];
        const physical =
          typeof explicit === "string"
            ? explicit
            : naming.autoNameLowerCase
              ? mockPhysicalName(r.name, {}, "aws:s3/bucket:Bucket")
              : mockPhysicalName(r.name);
        const scope = naming.scope ? JSON.stringify(r.inputs[naming.scope]) : "";
        return [{ resource: r, naming, physical, scope }];
      });
    }

    it("has a naming rule for every resource type the plans declare", () => {
      const types = new Set([...plans.values()].flatMap((plan) => plan.map((r) => r.type)));
      expect([...types].filter((t) => !(t in RESOURCE_NAMING))).to.deep.equal([]);
      // The config switches everything on: the plans must show the optional types too.
      for (const t of ["aws:secretsmanager/secret:Secret", "aws:sns/topicSubscription:TopicSubscription"]) {
        expect(types.has(t), t).to.equal(true);
      }
    });

    for (const stack of stacks) {
      it(`gives every resource of stack ${JSON.stringify(stack.length > 20 ? `${stack.slice(0, 20)}…` : stack)} a name AWS accepts`, () => {
        const problems = awsNames(plans.get(stack)!)
          .map(({ resource, naming, physical }) => {
            const broken = brokenRule(naming.rule, physical);
            return broken && `${resource.type} ${resource.name}: ${broken}`;
          })
          .filter(Boolean);
        expect(problems).to.deep.equal([]);
      });
    }

    it("never gives two resources one name, within a stack or across FeatureX and featurex, ignoring case", () => {
      const seen = new Map<string, string>();
      for (const stack of ["FeatureX", "featurex"]) {
        for (const { resource, naming, physical, scope } of awsNames(plans.get(stack)!)) {
          // Names inside a scope (tables in a database) repeat across scopes by design.
          const key = `${resource.type}|${scope}|${naming.rule.caseInsensitive ? physical.toLowerCase() : physical}`;
          expect(seen.get(key), `${key} in ${stack}`).to.equal(undefined);
          seen.set(key, `${stack} ${resource.name}`);
        }
      }
    });

    it("names each function's log group after the function, as Lambda expects", () => {
      for (const [stack, plan] of plans) {
        const groups = new Set(
          plan.filter((r) => r.type === "aws:cloudwatch/logGroup:LogGroup").map((r) => r.inputs["name"]),
        );
        for (const fn of plan.filter((r) => r.type === "aws:lambda/function:Function")) {
          const group = `/aws/lambda/${String(fn.inputs["name"])}`;
          expect(groups.has(group), `${stack}: ${group}`).to.equal(true);
          expect((fn.inputs["loggingConfig"] as { logGroup: string }).logGroup, stack).to.equal(group);
        }
      }
    });

    it("keeps the names of a lowercase stack that deploys today exactly as they were", () => {
      const today = plans.get(LONGEST_TODAY)!;
      const short = plans.get("featurex")!;
      const prefix = `${PROJECT}-${LONGEST_TODAY}`;
      for (const r of today) expect(r.name.startsWith(prefix), r.name).to.equal(true);
      const fns = today.filter((r) => r.type === "aws:lambda/function:Function").map((r) => r.inputs["name"]);
      // prod's config, so the warehouse's load function too, and the backfill's planner.
      expect(fns.sort()).to.deep.equal(
        ["backfill", "ingest", "intake", "load", "plan", "transform"].map((f) => `${prefix}-${f}`),
      );
      const database = today.find((r) => r.type === "aws:glue/catalogDatabase:CatalogDatabase")!;
      expect(database.inputs["name"]).to.equal(`weather_pipeline_${LONGEST_TODAY.replaceAll("-", "_")}`);
      const workgroup = today.find((r) => r.type === "aws:athena/workgroup:Workgroup")!;
      expect(workgroup.inputs["name"]).to.equal(`${prefix}-query`);
      // The same logical names as another short lowercase stack's, with the stack swapped.
      const swap = (name: string) => name.replace(`${PROJECT}-featurex`, prefix);
      expect(today.map((r) => `${r.type} ${r.name}`).sort()).to.deep.equal(
        short.map((r) => `${r.type} ${swap(r.name)}`).sort(),
      );
    });
  });
});
