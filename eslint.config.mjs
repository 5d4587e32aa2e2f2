import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'client/dist/',
      'client/src/api/schema.d.ts',
      'coverage/',
      '.tools/',
      'data/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'tests/**/*.mjs', 'eslint.config.mjs', 'jest.config.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
      },
    },
  },
  {
    // Repositories own their queries (docs/architecture.md, "Layers"): services, views and routes ask a
    // repository's named methods, never a collection.
    files: ['server/**/*.service.ts', 'server/**/*.views.ts', 'server/**/*.routes.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='collection']",
          message: 'Repositories own their queries: ask a repository, not the database.',
        },
        {
          selector:
            "CallExpression[callee.property.name=/^(find|findOne|insertOne|insertMany|updateOne|updateMany|deleteOne|deleteMany|countDocuments|aggregate|distinct|findOneAndUpdate|findOneAndDelete|findOneAndReplace|replaceOne|bulkWrite)$/][callee.object.type='MemberExpression'][callee.object.object.type='MemberExpression'][callee.object.object.object.type='ThisExpression']",
          message:
            "Repositories own their queries: call a named repository method, not its collection's driver call.",
        },
      ],
    },
  },
  {
    // The web client runs in browsers: no Node globals, and it logs nothing.
    files: ['client/src/**/*.ts'],
    rules: { 'no-restricted-globals': ['error', 'process', 'require', '__dirname', 'Buffer'] },
  },
);
