#!/bin/sh
# Run every cmocka binary given, print each summary, fail if any failed.
label=$1; shift
failed=0
for t in "$@"; do
        echo "== $label: $(basename "$t")"
        "$t" || failed=1
done
exit $failed
