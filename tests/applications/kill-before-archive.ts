/**
 * The child process of the SIGKILL fault: processes EVENT against BUCKET (s3rver at
 * AWS_ENDPOINT_URL_S3) and kills itself with SIGKILL at the archive write, after the decision
 * and the registry write, as a Lambda whose sandbox is torn down would stop.
 */
import { objectBackfillQueue, processApplicationEvent } from "../../pipeline/applications";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { createS3Client, S3ObjectStore } from "../../pipeline/core/storage";
import { FaultyStore } from "./faulty-store";
import { LIMITS, NOW } from "./drop-zone";

const store = new FaultyStore(new S3ObjectStore(createS3Client(), process.env["BUCKET"] as string), (_op, key) => {
  if (key.startsWith("applications/archive/")) process.kill(process.pid, "SIGKILL");
});
void processApplicationEvent(JSON.parse(process.env["EVENT"] as string), {
  store,
  bucket: process.env["BUCKET"],
  settings: DEFAULT_PIPELINE_SETTINGS,
  limits: LIMITS,
  backfill: objectBackfillQueue(store),
  notify: () => Promise.resolve(),
  now: () => NOW,
  log: () => undefined,
});
