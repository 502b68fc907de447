#!/usr/bin/env bash
# Fetches the ABC sources for `make data`.
#
#   scripts/fetch_corpus.sh music21 [OUT]   the default corpus (OUT: data/corpus/music21/abc)
#   scripts/fetch_corpus.sh irishman [OUT]  IrishMAN JSON (OUT: data/corpus/irishman/download)
#
# music21: downloads the pinned music21 wheel with `pip download --no-deps`,
# checks its sha256 and extracts only the ABC files of the five folk
# collections (the wheel also holds Josquin part-songs and one Nottingham
# file, which the reference copy in ../shared/abc/music21 leaves out; we leave
# them out too, so both sources give the same corpus). If the registry cannot
# be reached it falls back to ../shared/abc/music21. OUT/SOURCE (JSON) records
# which source was used, its revision, and a fingerprint of the extracted
# files: when they still match, re-running does nothing.
#
# irishman: train.json and validation.json of the Hugging Face dataset
# sander-wood/irishman at the pinned revision (a commit of the dataset's
# repository), each checked against its committed sha256. Hugging Face
# publishes the sha256 of files stored with Git LFS (train.json); it shows
# none for validation.json, which git stores directly: the pinned commit
# fixes its content, and SOURCE records the sha256 it was downloaded with.
# Files put into OUT by hand are checked the same way, so this works offline.
set -euo pipefail

M21_VERSION=10.5.1
M21_SHA256=dc3309498c4c95cebdf8d4f20c868deb6b63bce1d929cad4f51a7ccc982987b1
M21_WHEEL=music21-${M21_VERSION}-py3-none-any.whl
COLLECTIONS="airdsAirs essenFolksong miscFolk oneills1850 ryansMammoth"
SHARED=../shared/abc/music21
CACHE=data/cache
IRISHMAN_REPO=sander-wood/irishman
IRISHMAN_REVISION=30902e69ca45266207f8466e0d04e4bc742c5604
IRISHMAN_URL=${TB_IRISHMAN_URL:-https://huggingface.co/datasets/$IRISHMAN_REPO/resolve/$IRISHMAN_REVISION}
IRISHMAN_FILES="train.json validation.json"
irishman_sha256() {  # the committed sha256 of an IrishMAN file, or "unpublished"
  case "$1" in
    train.json) echo 5706880c0f935e69108244e010784935b7aba855f37ae2ce7f4e4d170851835c ;;
    *) echo unpublished ;;
  esac
}

what=${1:-music21}
say() { echo "fetch_corpus: $*"; }
die() { echo "fetch_corpus: error: $*" >&2; exit 1; }

tree_hash() {  # fingerprint of the files under $1 (names and contents)
  (cd "$1" && find . -type f \( -name '*.abc' -o -name '*.json' \) -print0 |
     LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
}

recorded_hash() {  # the tree hash stored in $1/SOURCE, or nothing
  [ -f "$1/SOURCE" ] && sed -n 's/.*"tree_sha256": *"\([0-9a-f]*\)".*/\1/p' "$1/SOURCE" || true
}

up_to_date() {
  local want; want=$(recorded_hash "$1")
  [ -n "$want" ] && [ -d "$1" ] && [ "$(tree_hash "$1")" = "$want" ]
}

pip_download() {
  local py
  for py in "pip" "python3 -m pip" "/usr/bin/python3 -m pip"; do
    if $py --version >/dev/null 2>&1 &&
       $py download --no-deps --only-binary=:all: "music21==$M21_VERSION" -d "$CACHE" -q >/dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}

fetch_music21() {
  local out=${1:-data/corpus/music21/abc}
  if up_to_date "$out"; then say "$out is up to date"; return 0; fi
  local tmp="$out.tmp.$$" kind detail
  rm -rf "$tmp"; mkdir -p "$tmp" "$CACHE"
  trap 'rm -rf "$tmp"' EXIT
  local wheel="$CACHE/$M21_WHEEL"
  if [ ! -f "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$M21_SHA256" ]; then
    rm -f "$wheel"
    say "downloading $M21_WHEEL from PyPI (pip download --no-deps)"
    pip_download || say "pip download failed"
  fi
  if [ -f "$wheel" ] && [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$M21_SHA256" ]; then
    command -v unzip >/dev/null || die "unzip is missing: run 'make deps' (or apt-get install unzip)"
    local c
    for c in $COLLECTIONS; do
      unzip -q -o "$wheel" "music21/corpus/$c/*.abc" -d "$tmp/wheel" || die "could not extract $c from $wheel"
      mv "$tmp/wheel/music21/corpus/$c" "$tmp/$c"
    done
    rm -rf "$tmp/wheel"
    kind=pypi-wheel
    detail="\"revision\": \"music21 $M21_VERSION\", \"package\": \"music21\", \"version\": \"$M21_VERSION\", \"wheel\": \"$M21_WHEEL\", \"sha256\": \"$M21_SHA256\""
  elif [ -d "$SHARED" ]; then
    [ -f "$wheel" ] && say "the wheel's sha256 does not match the pinned one; not using it"
    say "falling back to the local copy in $SHARED"
    local c
    for c in $COLLECTIONS; do
      [ -d "$SHARED/$c" ] || die "$SHARED/$c is missing"
      cp -r "$SHARED/$c" "$tmp/$c"
      find "$tmp/$c" -type f ! -name '*.abc' -delete
    done
    local commit=""
    [ -f "$SHARED/SOURCE_COMMIT" ] && commit=$(tr -d '\n ' < "$SHARED/SOURCE_COMMIT")
    kind=shared-copy
    detail="\"revision\": \"music21 ${commit:-unknown}\", \"path\": \"$SHARED\", \"music21_commit\": \"$commit\", \"pinned_version\": \"$M21_VERSION\""
  else
    die "could not download music21 $M21_VERSION from PyPI and there is no local copy in $SHARED; check the network or pass your own files with 'make data ABC_SRC=path...'"
  fi
  local files; files=$(find "$tmp" -name '*.abc' | wc -l)
  [ "$files" -gt 0 ] || die "no ABC files were extracted"
  local hash; hash=$(tree_hash "$tmp")
  cat > "$tmp/SOURCE" <<JSON
{"kind": "$kind", $detail, "collections": "$COLLECTIONS", "files": $files, "tree_sha256": "$hash"}
JSON
  rm -rf "$out"; mkdir -p "$(dirname "$out")"; mv "$tmp" "$out"
  trap - EXIT
  say "extracted $files ABC files into $out (source: $kind)"
}

fetch_irishman() {
  local out=${1:-data/corpus/irishman/download}
  local page="https://huggingface.co/datasets/$IRISHMAN_REPO/tree/$IRISHMAN_REVISION"
  if up_to_date "$out" && grep -q "\"revision\": \"$IRISHMAN_REVISION\"" "$out/SOURCE"; then
    say "$out is up to date"; return 0
  fi
  mkdir -p "$out"
  local f want got files=""
  for f in $IRISHMAN_FILES; do
    if [ ! -f "$out/$f" ]; then
      command -v curl >/dev/null || die "curl is missing: install it (apt-get install curl), or download $IRISHMAN_FILES from $page into $out/"
      say "downloading $IRISHMAN_URL/$f"
      curl -fsSL --retry 2 -o "$out/$f.part" "$IRISHMAN_URL/$f" 2>/dev/null || {
        rm -f "$out/$f.part"
        die "could not download $f (no network?): download $IRISHMAN_FILES from $page into $out/ and run make data DATASET=irishman again"
      }
      mv "$out/$f.part" "$out/$f"
    fi
    want=$(irishman_sha256 "$f"); got=$(sha256sum "$out/$f" | cut -d' ' -f1)
    if [ "$want" != unpublished ] && [ "$got" != "$want" ]; then
      die "$out/$f has sha256 $got, not the pinned $want (revision $IRISHMAN_REVISION): delete it and download it again from $page"
    fi
    files+="${files:+, }\"$f\": {\"sha256\": \"$got\", \"pinned_sha256\": $([ "$want" = unpublished ] && echo null || echo "\"$want\"")}"
  done
  local hash; hash=$(tree_hash "$out")
  echo "{\"kind\": \"huggingface-dataset\", \"repo\": \"$IRISHMAN_REPO\", \"revision\": \"$IRISHMAN_REVISION\", \"files\": {$files}, \"tree_sha256\": \"$hash\"}" > "$out/SOURCE.tmp"
  mv "$out/SOURCE.tmp" "$out/SOURCE"
  say "IrishMAN at revision $IRISHMAN_REVISION in $out"
}

case "$what" in
  music21) fetch_music21 "${2:-}" ;;
  irishman) fetch_irishman "${2:-}" ;;
  *) die "unknown source '$what' (use music21 or irishman)" ;;
esac
