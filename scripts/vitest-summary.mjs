// A vitest reporter for `npm test`: the run's totals from vitest's own results (tests passed,
// failed and skipped; modules and suites that failed outside a test, e.g. in a beforeAll; errors
// outside any test) and each project's wall time, written as JSON to SWITCHYARD_SUMMARY.
import { writeFileSync } from 'node:fs';

export default class SummaryReporter {
  starts = new Map();
  ends = new Map();

  onTestModuleStart(testModule) {
    const name = testModule.project.name || 'all';
    if (!this.starts.has(name)) this.starts.set(name, Date.now());
  }

  onTestModuleEnd(testModule) {
    this.ends.set(testModule.project.name || 'all', Date.now());
  }

  onTestRunEnd(testModules, unhandledErrors) {
    const totals = { passed: 0, failed: 0, broken: 0, skipped: 0, errors: unhandledErrors.length, groups: {} };
    for (const testModule of testModules) {
      let failedTests = 0;
      for (const test of testModule.children.allTests()) {
        const { state } = test.result();
        if (state === 'passed') totals.passed++;
        else if (state === 'failed') failedTests++;
        else totals.skipped++;
      }
      totals.failed += failedTests;
      // A module or suite that failed with no failed test of its own (an import error, a
      // failing beforeAll or afterAll) is a failure of its own.
      const suites = [testModule, ...testModule.children.allSuites()];
      totals.broken += suites.filter((suite) => suite.state() === 'failed' && !hasFailedTest(suite)).length;
    }
    for (const [name, start] of this.starts) totals.groups[name] = Math.round(((this.ends.get(name) ?? start) - start) / 1000);
    writeFileSync(process.env.SWITCHYARD_SUMMARY, JSON.stringify(totals));
  }
}

function hasFailedTest(suite) {
  for (const test of suite.children.allTests()) if (test.result().state === 'failed') return true;
  return false;
}
