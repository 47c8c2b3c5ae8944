// Runs the `seqcast` command from the sources (for tests that need a real process to kill): node --import tsx tests/server/seqcast-cli.mts ARGS…
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
