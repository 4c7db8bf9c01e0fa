// The shared flat config: typescript-eslint's recommended rules plus the house rules.
import Module, { createRequire } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';

// typescript-eslint needs TypeScript's compiler API, which TypeScript 7 (the repo's compiler, native)
// does not have. npm hoists some of typescript-eslint's helpers (ts-api-utils) next to TypeScript 7,
// so point every `require('typescript')` made while linting at the TypeScript 5 installed here.
const typescript5 = createRequire(import.meta.url).resolve('typescript');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, request === 'typescript' ? typescript5 : request, ...rest);
};
const { default: tseslint } = await import('typescript-eslint');

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/.data/**', '**/*.stripped-*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export an explicit list of names.' }],
    },
  },
  {
    // No console in libraries and services: log with pino.
    files: ['packages/**/src/**/*.ts', 'apps/**/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/fixtures/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Nothing outside infra imports its internals.
    files: ['apps/**/*.ts', 'packages/api-contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@switchyard/infra/src/*', '@switchyard/infra/internal/*', '**/infra/src/internal/*'] },
      ],
    },
  },
);
