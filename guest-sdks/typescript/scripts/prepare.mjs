// npm runs `prepare` on `npm ci` / `npm install` of this package, and of a
// project that depends on it with "file:" (the examples): build dist/ with
// this package's own TypeScript compiler, or say what to do without it.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  console.error(
    `@squall/sdk: cannot build ${join(root, "dist")}: its devDependencies are not installed.\n` +
      `Run "npm ci" in ${root} first, then install this project again.`,
  );
  process.exit(1);
}
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
