import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LineDestination } from './destination.js';
import { sourceCommand } from '../testing/spawn-service.js';

const BURST = fileURLToPath(new URL('./fixtures/log-burst.ts', import.meta.url));

describe('LineDestination', () => {
  it('writes the lines of a turn together at its end, in order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lines-')), 'log');
    const fd = openSync(file, 'w');
    const destination = new LineDestination(fd);
    destination.write('a\n');
    destination.write('b\n');
    expect(readFileSync(file, 'utf8')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    expect(readFileSync(file, 'utf8')).toBe('a\nb\n');
    destination.write('c\n');
    destination.flushSync();
    expect(readFileSync(file, 'utf8')).toBe('a\nb\nc\n');
    closeSync(fd);
  });

  it('past maxPending, writes at once instead of holding more', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lines-')), 'log');
    const fd = openSync(file, 'w');
    const destination = new LineDestination(fd, { maxPending: 10 });
    destination.write('12345\n');
    expect(readFileSync(file, 'utf8')).toBe('');
    destination.write('67890\n');
    expect(readFileSync(file, 'utf8')).toBe('12345\n67890\n');
    closeSync(fd);
  });

  it('loses nothing when the process exits at once, even into a pipe read slowly', async () => {
    const count = 50_000; // ~9 MB: far more than a pipe holds
    const child = spawn(process.execPath, [...sourceCommand(BURST).slice(1), String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.pause();
    // Nobody reads the pipe for a while: the slow reader is what is tested (the child fills the
    // pipe, exits, and must still hand over every line).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stdout.resume();
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n');
    expect(lines).toHaveLength(count);
    const pad = `${'x'.repeat(90)}é€𝄞`;
    expect(
      lines.every((line, i) => {
        const entry = JSON.parse(line) as { i: number; pad: string };
        return entry.i === i && entry.pad === pad;
      }),
    ).toBe(true);
  }, 30_000);
});
