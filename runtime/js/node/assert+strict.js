// exports: AssertionError ok equal notEqual strictEqual notStrictEqual deepEqual notDeepEqual deepStrictEqual notDeepStrictEqual throws doesNotThrow rejects doesNotReject match doesNotMatch fail ifError strict
"use strict";
module.exports = require("node:assert").strict;
