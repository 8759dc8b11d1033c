/**
 * Import boundaries, checked by `make lint` (npx depcruise): the seams of DESIGN.md kept by a tool.
 * - frontends (src/api/**) never import drivers: they talk to the core / gateway layer only;
 * - drivers never import frontends;
 * - tests never import benchmarks; production code (src, drivers, emulators) never imports test/ or bench/.
 * Temporary allow-lists name exact files, each to be removed by the work that owns it; never a folder.
 */
/**
 * TEMPORARY: the HTTP frontend still takes the sim driver's card models (drivers/sim/config.ts) for its
 * simulate routes and the UI. Issue 10's application layer (src/gateway, engineer gw) moves them behind
 * the gateway; delete each line when its import is gone (depcruise then keeps it gone).
 */
const FRONTEND_DRIVER_IMPORTS_TO_REMOVE = ['src/api/http/schemas.ts', 'src/api/http/routes/readers.ts'];
const exactly = (files) => `^(${files.map((f) => f.replace(/[.]/g, '\\.')).join('|')})$`;

module.exports = {
  forbidden: [
    {
      name: 'frontend-imports-driver',
      severity: 'error',
      comment: 'A frontend (src/api/**) reaches a driver; go through the core or src/gateway instead.',
      from: FRONTEND_DRIVER_IMPORTS_TO_REMOVE.length ? { path: '^src/api/', pathNot: exactly(FRONTEND_DRIVER_IMPORTS_TO_REMOVE) } : { path: '^src/api/' },
      to: { path: '^drivers/' },
    },
    {
      name: 'driver-imports-frontend',
      severity: 'error',
      comment: 'A driver imports a frontend (src/api/**): drivers sit below the core.',
      from: { path: '^drivers/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'test-imports-bench',
      severity: 'error',
      comment: 'Tests do not depend on benchmarks; shared doubles live in emulators/ or test/helpers.',
      from: { path: '^test/' },
      to: { path: '^bench/' },
    },
    {
      name: 'production-imports-test-or-bench',
      severity: 'error',
      comment: 'Production code (src, drivers, emulators) never imports test/ or bench/.',
      from: { path: '^(src|drivers|emulators)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.tap)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
