#!/bin/sh
# run.sh runs the web-platform-tests files isobox reports on (WebCryptoAPI, streams,
# urlpattern: their .any.js files) under isobox and, given a deno binary, under Deno too:
# the same scripts through the same harness (runtime/testdata/wpt/testharness.js), one
# sandbox or one deno process per file. It prints a line per file and a total per suite.
# Tentative files run too (WebCryptoAPI's Ed448/X448 files are *.tentative.https.any.js).
#
#	tools/wpt/run.sh <wpt-checkout> [<deno binary>] [suites...]
#	ISOBOX_WPT_FILES=448 tools/wpt/run.sh <wpt-checkout> "" WebCryptoAPI   # only the curve448 files
#
# ("" for the deno binary runs isobox alone.) TestWPTHarness checks the harness on a small
# tree laid out as the WPT is, so the part that needs no checkout is tested in CI.
#
# The checkout is not in this repository, and CI's test run has none, so TestWPT skips
# there: this script is how the README's figures are reproduced. A checkout of the three
# folders (and common/) is enough, e.g. from a clone of github.com/web-platform-tests/wpt:
#
#	git -C wpt archive <commit> WebCryptoAPI streams urlpattern common | tar x -C /tmp/wpt
#
# Deno from npm: npm install --prefix /tmp/deno-npm deno && deno=/tmp/deno-npm/node_modules/deno/deno
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 <wpt-checkout> [<deno binary>] [suites...]" >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
shift
deno=""
if [ $# -ge 1 ]; then
	deno=$(command -v "$1" || echo "$1")
	shift
fi
suites=${*:-WebCryptoAPI streams urlpattern}
cd "$(dirname "$0")/../.."
ISOBOX_WPT_DIR="$dir" ISOBOX_WPT_DENO="$deno" ISOBOX_WPT_SUITES="$suites" \
	go test ./runtime -run 'TestWPT$' -v -count=1 -timeout 60m |
	sed -n 's/^ *wpt_test.go:[0-9]*: //p'
