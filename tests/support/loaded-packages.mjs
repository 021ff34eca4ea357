// Preloaded (node --import) by a test: when the process exits, prints to stderr the packages
// under node_modules that it loaded with require, one line of JSON, so the test can see what a
// command needs.
import { createRequire } from "node:module";
import process from "node:process";

const cache = createRequire(import.meta.url).cache;
process.on("exit", () => {
  const packages = new Set();
  for (const file of Object.keys(cache)) {
    const match = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
    if (match) packages.add(match[1].replace(/\\/g, "/"));
  }
  process.stderr.write(`loaded-packages ${JSON.stringify([...packages].sort())}\n`);
});
