// ESLint 9 flat config: the recommended sets, typed where the code is TypeScript. Prettier owns layout
// (eslint-config-prettier, last); every rule turned off or relaxed below says why on its line.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '**/.trellis/', 'examples/chat/dist/'],
  },
  js.configs.recommended,
  {
    rules: {
      // Refusing NUL and the other control characters in names, paths and tokens is deliberate validation.
      'no-control-regex': 'off',
    },
  },
  {
    // Plain JavaScript: the CLI shim, the benchmark floors, this file. Node globals, no type information.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // tsconfig.test.json covers src, test, bench and the example's server; the example's browser
        // code and Studio's (studio/web) have their own (DOM) tsconfigs.
        project: ['./tsconfig.test.json', './examples/chat/tsconfig.json', './studio/web/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      // An in-memory implementation keeps its interface's Promise contract with `async` and no await, so a
      // throw becomes a rejection as in the shared implementation.
      '@typescript-eslint/require-await': 'off',
      // The REST parser backtracks by throwing a light ParseFailure (no stack) that it catches itself.
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'ParseFailure' }] }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        // A leading underscore marks a parameter kept for its position (Hono handlers, callbacks).
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and benchmarks read JSON bodies and library internals: `any` there is a test's business,
    // while src/ keeps no-explicit-any (and the no-unsafe-* family) from the recommended set.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  prettier,
);
