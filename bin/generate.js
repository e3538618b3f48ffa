#!/usr/bin/env node
// `generate <spec>` = `contractbus generate <spec>`.
import { loadCli } from './load-cli.js';

const cli = await loadCli();
await cli.run(['generate', ...process.argv.slice(2)]);
