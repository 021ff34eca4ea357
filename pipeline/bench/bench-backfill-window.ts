/**
 * One window's transform of `npm run bench -- backfill`, in a process of its own so that its peak
 * memory is its own: `node bench-backfill-window.js <raw-dir> <curated-dir> <from> <to>
 * <settings-json> <key...>` runs transformRawObjects (the transform Lambda's code) over folders
 * laid out as DirectoryObjectStore lays them out, and prints one JSON line.
 */
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore, PutOptions, StoredObject } from "../core/storage";
import { transformRawObjects } from "../transform";

/** A folder as an object store, without storage.ts (its S3 client would add the AWS SDK to the memory measured). */
class Folder implements ObjectStore {
  constructor(readonly description: string) {}

  async putObject(key: string, body: Uint8Array | string, _options: PutOptions): Promise<void> {
    const file = path.join(this.description, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.partial`, body);
    await rename(`${file}.partial`, file);
  }

  getObject(key: string): Promise<StoredObject> {
    return Promise.resolve({ key, body: readFileSync(path.join(this.description, key)), metadata: {} });
  }

  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return Promise.resolve(createReadStream(path.join(this.description, key), { highWaterMark: 1 << 20 }));
  }

  listKeys(): Promise<string[]> {
    return Promise.reject(new Error("not used by the benchmark"));
  }

  deleteObject(): Promise<void> {
    return Promise.reject(new Error("not used by the benchmark"));
  }
}

function peakRssBytes(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const [rawDir, curatedDir, from, to, settingsJson, ...keys] = process.argv.slice(2);
  const settings = JSON.parse(settingsJson as string) as PipelineSettings;
  const started = performance.now();
  const result = await transformRawObjects(
    { from: from as string, to: to as string, keys },
    { settings, rawStore: new Folder(rawDir as string), curatedStore: new Folder(curatedDir as string) },
  );
  process.stdout.write(
    `${JSON.stringify({
      peakRssBytes: peakRssBytes(),
      wallMs: performance.now() - started,
      rows: result.files.reduce((sum, f) => sum + f.rows, 0),
      files: result.files.length,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
