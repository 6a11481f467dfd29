// bench/classifier: the machine-open and link-scanner classifier on the labelled set (test/fixtures/engagement/hits.json),
// its precision and recall for "machine" against the 95 % target, where it goes wrong, and its cost per call against
// the 10 µs budget of a pixel hit. Standalone: `npx tsx bench/classifier.ts`.
import { fileURLToPath } from 'node:url';
import { classifyEngagement } from '../src/engagement/classify.js';
import { evaluate, labelledHits } from '../test/fixtures/engagement/evaluate.js';
import { table } from './lib/report.js';

const TARGET = 0.95;
const BUDGET_MICROSECONDS = 10;

export function benchClassifier(): string {
  const examples = labelledHits();
  const result = evaluate(classifyEngagement, examples);

  for (let round = 0; round < 50; round++) for (const example of examples) classifyEngagement(example.hit, example.context);
  const rounds = 400;
  const started = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) for (const example of examples) classifyEngagement(example.hit, example.context);
  const microseconds = Number(process.hrtime.bigint() - started) / 1000 / (rounds * examples.length);

  const percent = (value: number) => `${(value * 100).toFixed(1)} %`;
  const machines = examples.filter((example) => example.label === 'machine').length;
  return [
    `bench/classifier: ${examples.length} labelled hits (${machines} machine, ${examples.length - machines} human), built from cited public facts by test/fixtures/engagement/build-hits.ts`,
    table([
      ['', 'measured', 'target'],
      ['precision ("machine" verdicts that are machines)', percent(result.precision), `≥ ${percent(TARGET)}`],
      ['recall (machines found)', percent(result.recall), `≥ ${percent(TARGET)}`],
      ['µs per call (mean over the set)', microseconds, `< ${BUDGET_MICROSECONDS}`],
    ]),
    `confusion: ${result.truePositives} machines found, ${result.falseNegatives} missed, ${result.falsePositives} people called machines, ${result.trueNegatives} people kept`,
    '',
    table([
      ['scenario', 'label', 'hard', 'correct', 'of'],
      ...result.scenarios.map((row) => [row.scenario, row.label, row.hard ? 'yes' : '', row.correct, row.examples]),
    ]),
    '',
    'mistakes:',
    ...result.mistakes.map((mistake) => `  ${mistake.id} (${mistake.label}): ${mistake.reason ?? 'called a person'}`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(benchClassifier());
