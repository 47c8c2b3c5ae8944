#!/usr/bin/env node
// The `seqcast` command: runs the built CLI (npm run build makes dist/).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
