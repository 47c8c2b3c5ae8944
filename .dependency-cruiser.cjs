// The house's import rules (DESIGN.md "One picture"): no import circles in src/, types included, and no import up a floor.
// tests/house.test.ts runs dependency-cruiser with this file in `npm test`; `npx depcruise src` runs it by hand.

/**
 * The spine's floors, top first: a file imports from its own floor or a lower
 * one, never a higher one. Folders on one floor may import each other.
 * Move a folder, or add a floor, here and only here.
 */
const FLOORS = [['cli'], ['server'], ['stream'], ['api'], ['model', 'kernel']];

/**
 * Folders beside the spine: which folders may import each (`'*'`: any), and
 * which the helper itself may import besides its own folder. A helper below
 * everyone (io) imports nothing of the house.
 */
const HELPERS = {
  train: { importedBy: ['cli'], imports: ['api', 'model', 'io'] },
  demo: { importedBy: ['cli', 'server'], imports: ['api', 'model', 'io'] },
  io: { importedBy: '*', imports: [] },
  // the wire's types, codes and codecs: what the server speaks and the pipeline's errors carry; it imports nothing of the house
  protocol: { importedBy: ['cli', 'server', 'stream'], imports: [] },
};

/** Files at the top of src/: errors.ts is the floor under everything; index.ts is the library's entry, which nothing imports. */
const ROOT_FILES = { errors: { imports: [] }, index: { imports: ['api', 'model', 'kernel', 'stream', 'io'] } };

/**
 * Known violations, allowed for now: none. Each entry would be the rule, and a
 * regex of the files (as `from`) it is waived for, with the issue that removes it.
 */
const KNOWN_VIOLATIONS = [];

const helperNames = Object.keys(HELPERS);

/** The folders `folder` may import, itself included. */
function allowedFor(folder) {
  const floor = FLOORS.findIndex((names) => names.includes(folder));
  const allowed = new Set([folder]);
  if (floor >= 0) for (const names of FLOORS.slice(floor)) for (const name of names) allowed.add(name);
  else for (const name of HELPERS[folder].imports) allowed.add(name);
  for (const [helper, { importedBy }] of Object.entries(HELPERS)) {
    if (importedBy === '*' || importedBy.includes(folder)) allowed.add(helper);
  }
  return [...allowed];
}

function waivers(rule) {
  return KNOWN_VIOLATIONS.filter((known) => known.rule === rule).map((known) => known.from);
}

function withWaivers(rule, from) {
  const waived = waivers(rule.name);
  return { ...rule, from: waived.length > 0 ? { ...from, pathNot: waived } : from };
}

const floorRules = [...FLOORS.flat(), ...helperNames].map((folder) =>
  withWaivers(
    {
      name: `no-upward-from-${folder}`,
      comment: `src/${folder}/ may import only ${allowedFor(folder).map((name) => `src/${name}/`).join(', ')} and src/errors.ts (DESIGN.md "One picture")`,
      severity: 'error',
      to: { path: '^src/', pathNot: [`^src/(${allowedFor(folder).join('|')})/`, '^src/errors\\.ts$'] },
    },
    { path: `^src/${folder}/` },
  ),
);

const rootRules = Object.entries(ROOT_FILES).map(([file, { imports }]) => ({
  name: `no-upward-from-${file}-ts`,
  comment: imports.length ? `src/${file}.ts may import only ${imports.map((name) => `src/${name}/`).join(', ')} and src/errors.ts` : `src/${file}.ts imports no other file of src/`,
  severity: 'error',
  from: { path: `^src/${file}\\.ts$` },
  to: { path: '^src/', pathNot: [...imports.map((name) => `^src/${name}/`), '^src/errors\\.ts$'] },
}));

module.exports = {
  forbidden: [
    withWaivers({ name: 'no-circular', comment: 'no two files import each other, even for types, even through others', severity: 'error', to: { circular: true } }, { path: '^src/' }),
    ...floorRules,
    ...rootRules,
    {
      name: 'no-unknown-folder',
      comment: 'every folder of src/ has a place in FLOORS or HELPERS of .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: [`^src/(${[...FLOORS.flat(), ...helperNames].join('|')})/`, `^src/(${Object.keys(ROOT_FILES).join('|')})\\.ts$`] },
      to: {},
    },
    {
      name: 'no-server-into-api',
      comment: 'the server reaches the library through the stream layer (src/stream/), never past it into src/api/ (DESIGN.md: the server knows nothing of gates or weights)',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/api/' },
    },
    { name: 'no-import-of-index', comment: 'src/index.ts is the package entry; the library imports the module itself', severity: 'error', from: { path: '^src/' }, to: { path: '^src/index\\.ts$' } },
    { name: 'no-import-of-cli', comment: 'nothing outside src/cli/ imports the command line', severity: 'error', from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
    { name: 'no-import-of-tests-bench-scripts', comment: 'the library never imports tests, benches or scripts', severity: 'error', from: { path: '^src/' }, to: { path: '^(tests|bench|scripts)/' } },
    { name: 'not-to-unresolvable', comment: 'every import resolves', severity: 'error', from: { path: '^src/' }, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports count: a circle through types is still a circle
    tsPreCompilationDeps: true,
    // resolves the source's ".js" specifiers to the .ts files (NodeNext resolution)
    tsConfig: { fileName: 'tsconfig.json' },
    // packages' "exports" maps count, as Node and vite read them (src/io/csv-text.ts imports csv-parse/browser/esm/sync)
    enhancedResolveOptions: { extensions: ['.ts', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
    // the graph is read from the files themselves, dynamic import() included
    parser: 'tsc',
  },
};
