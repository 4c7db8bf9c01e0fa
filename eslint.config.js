import config from '@switchyard/eslint-config';

export default config;
