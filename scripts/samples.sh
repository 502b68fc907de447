#!/usr/bin/env bash
# samples.sh: listen to and look at tunes. For each set of tunes (an
# experiment's generated tunes, or the real validation tunes) writes, under
# OUT/<name>/:
#   <tune>.abc  the tune            <tune>.mid  MIDI (abc2midi)
#   <tune>.wav  audio (fluidsynth, FluidR3 GM soundfont, 44.1 kHz 16-bit)
#   <tune>.mp3  audio for the page (lame)      <tune>.svg  the score (abcm2ps -g)
#   render.tsv  what each tool managed, per tune   metrics.json  evaluate-music
# then OUT/index.html (tunebench samples-index) with scores, players and metrics.
#
# usage: scripts/samples.sh [--limit N] [--tunebench BIN] OUT NAME=PATH [NAME=PATH...]
#   PATH is a folder of *.abc files or one ABC file of many tunes; --limit N
#   keeps the first N tunes of each set (default 16).
#
# A tune a tool cannot handle is recorded as such in render.tsv and the page,
# and the batch goes on; a missing tool stops everything with the Debian
# package to install.
set -euo pipefail

limit=16
tunebench=build/tunebench
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --tunebench) tunebench="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ]; then
  echo "usage: scripts/samples.sh [--limit N] [--tunebench BIN] OUT NAME=PATH [NAME=PATH...]" >&2
  exit 2
fi
out="$1"; shift

soundfont=/usr/share/sounds/sf2/FluidR3_GM.sf2
need() {  # program, Debian package
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "samples.sh: error: $1 is not installed; install the Debian package $2 (bash scripts/deps.sh samples)" >&2
    exit 1
  fi
}
need abc2midi abcmidi
need abcm2ps abcm2ps
need fluidsynth fluidsynth
need lame lame
if [ ! -f "$soundfont" ]; then
  echo "samples.sh: error: $soundfont is missing; install the Debian package fluid-soundfont-gm (bash scripts/deps.sh samples)" >&2
  exit 1
fi
if [ ! -x "$tunebench" ]; then
  echo "samples.sh: error: $tunebench is not built; run make" >&2
  exit 1
fi

# Splits an ABC file of many tunes into one file per tune (the first $limit),
# named tune_001.abc...; a tune starts at a line "X:".
split_tunes() {  # file, destination folder
  awk -v dir="$2" -v limit="$limit" '
    /^X:/ { n++; if (n > limit) exit; f = sprintf("%s/tune_%03d.abc", dir, n) }
    n >= 1 && n <= limit { print > f }
  ' "$1"
}

mkdir -p "$out"
for spec in "$@"; do
  name="${spec%%=*}"; src="${spec#*=}"
  if [ "$name" = "$spec" ] || [ -z "$name" ] || [ -z "$src" ]; then
    echo "samples.sh: error: '$spec' is not NAME=PATH" >&2; exit 2
  fi
  case "$name" in *[!A-Za-z0-9._-]*) echo "samples.sh: error: set name '$name' must be letters, digits, . _ -" >&2; exit 2 ;; esac
  dir="$out/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  if [ -d "$src" ]; then
    n=0
    for f in $(ls "$src" | grep '\.abc$' | sort); do
      n=$((n + 1)); [ "$n" -gt "$limit" ] && break
      base=$(basename "$f" .abc | tr -c 'A-Za-z0-9._\n-' '_')
      cp "$src/$f" "$dir/$base.abc"
    done
  elif [ -f "$src" ]; then
    split_tunes "$src" "$dir"
  else
    echo "samples.sh: error: $src: no such folder or file of tunes" >&2; exit 1
  fi
  count=$(ls "$dir" | grep -c '\.abc$' || true)
  if [ "$count" = 0 ]; then echo "samples.sh: error: no tunes in $src" >&2; exit 1; fi

  printf 'tune\tmidi\twav\tmp3\tsvg\n' > "$dir/render.tsv"
  ok_all=0
  for abc in "$dir"/*.abc; do
    t=$(basename "$abc" .abc)
    midi=0; wav=0; mp3=0; svg=0
    # Each tool gets a time limit: a broken tune must not stall the batch.
    timeout 30 abc2midi "$abc" -o "$dir/$t.mid" -silent > "$dir/$t.abc2midi.log" 2>&1 || true
    [ -s "$dir/$t.mid" ] && midi=1
    if [ $midi = 1 ]; then
      timeout 120 fluidsynth -ni -q -F "$dir/$t.wav" -r 44100 -O s16 -T wav "$soundfont" "$dir/$t.mid" \
        > "$dir/$t.fluidsynth.log" 2>&1 || true
      # A WAV header alone (44 bytes) is no audio.
      [ -f "$dir/$t.wav" ] && [ "$(stat -c %s "$dir/$t.wav")" -gt 44 ] && wav=1
    fi
    if [ $wav = 1 ]; then
      timeout 120 lame --quiet -V 4 "$dir/$t.wav" "$dir/$t.mp3" > "$dir/$t.lame.log" 2>&1 || true
      [ -s "$dir/$t.mp3" ] && mp3=1
    fi
    timeout 30 abcm2ps -q -g -O "$dir/$t.svg" "$abc" > "$dir/$t.abcm2ps.log" 2>&1 || true
    # abcm2ps -g numbers its output (t001.svg); keep the first page as t.svg.
    if [ -s "$dir/${t}001.svg" ]; then mv "$dir/${t}001.svg" "$dir/$t.svg"; rm -f "$dir/${t}"[0-9][0-9][0-9].svg; fi
    [ -s "$dir/$t.svg" ] && svg=1
    [ $midi$wav$mp3$svg = 1111 ] && ok_all=$((ok_all + 1))
    printf '%s\t%d\t%d\t%d\t%d\n' "$t" $midi $wav $mp3 $svg >> "$dir/render.tsv"
  done
  "$tunebench" evaluate-music --dir "$dir" --label "$name" --out "$dir/metrics.json" >/dev/null
  echo "samples.sh: $name: $count tunes, $ok_all rendered by every tool -> $dir"
done
"$tunebench" samples-index --dir "$out" --out "$out/index.html"
