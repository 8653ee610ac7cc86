import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const services = readdirSync(new URL('./services', import.meta.url));

/**
 * A service's code may import the platform, the generated contracts and its own code — never another
 * service. Cross-service reads go through gRPC, reactions through events.
 */
const serviceBoundaries = services.flatMap((service) => {
  const others = services.filter((s) => s !== service);
  const internals = [
    { group: others.map((o) => `@nova/${o}/*`), message: `services/${service} may not import another service's internals.` },
    { regex: `^(\\.\\./)+(services/)?(${others.join('|')})(/|$)`, message: `services/${service} may not import another service's files.` },
  ];
  return [
    {
      files: [`services/${service}/src/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              { group: others.map((o) => `@nova/${o}`), message: `services/${service} may not import another service: call it over gRPC or react to its events.` },
              ...internals,
              { group: ['@nova/cli', '@nova/cli/*'], message: 'services may not import the CLI.' },
            ],
          },
        ],
      },
    },
    // Integration tests may start a neighbouring service for real (through its package entry, as the CLI
    // does), never reach into its internals.
    { files: [`services/${service}/tests/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns: internals }] } },
  ];
});
export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/proto/src/gen/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through the config spec; only the CLI entry point and test helpers read process.env.' },
      ],
    },
  },
  { files: ['packages/cli/src/main.ts', 'packages/testing/src/**', 'scripts/**', 'bench/**', '**/*.test.ts', 'vitest.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
  ...serviceBoundaries,
);
