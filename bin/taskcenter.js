#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// V8 "pretenures" an object literal once most of its objects outlive a young-generation
// GC: from then on it allocates them straight into the old generation. A batch of a
// thousand jobs keeps its per-job objects for the whole batch, so batch ingest taught
// V8 to pretenure them, and ~25 MB/s of short-lived objects went to the old generation,
// which V8 lets grow to four times its live size between full GCs (peak RSS 215-235 MB
// under ingest; ~150 MB without, and no slower). Set here, where the process starts and
// before any of its code has run, so it holds for every command and nothing that
// imports the server changes the flags of its own process.
setFlagsFromString('--no-allocation-site-pretenuring');
// After each full GC V8 lets the old generation grow to up to four times what survived
// before the next, when collecting is cheap. Under ingest a batch's objects live through
// a few young-generation GCs (its store round trips) and are promoted, ~25 MB/s of them
// dead soon after; with about 30 MB live, the process grew to 240-260 MB before a full GC
// (issue 16). Growing by half at most keeps it under 180 MB; the full GCs come about
// five times as often, and cost their marking, mostly on V8's helper threads.
setFlagsFromString('--heap-growing-percent=50');

const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
