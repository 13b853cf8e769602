#!/usr/bin/env bash
# Makes the seed corpora of fuzz_bundle and fuzz_session: genuine bundles
# and heads files of a small deployment whose root key is the fixed fuzz
# root (tests/fuzz/fuzz_node.h), so the seeds get past signature and trust
# checks in the fuzzing node. Run from the top of the tree after `make`;
# it rewrites tests/fuzz/corpus/{bundle,session}/. The files are committed.
set -eu
cd "$(dirname "$0")/../.."
Q=${QIAO:-$PWD/build/qiao}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ROOT_PK=e2fe2a39b7326642827d6d82d497622cd6c297fe78270eaa436b01f086b6f3cb
ROOT_SEED=$(printf '71%.0s' $(seq 1 32))

$Q root init --dir "$W/r" --region 500116 >/dev/null
printf '# qiao Ed25519 secret key seed; keep private (mode 0600)\n%s\n' \
	"$ROOT_SEED" >"$W/r/key"
echo "$ROOT_PK" >"$W/r/key.pub"
[ "$($Q id --dir "$W/r")" = "$ROOT_PK" ]
T=$($Q init --dir "$W/t" --role town --region 500116001 --name 城南街道 \
	--root "$ROOT_PK" 2>/dev/null)
V=$($Q init --dir "$W/v" --role village --region 500116001001 \
	--name 石桥村 --root "$ROOT_PK" 2>/dev/null)
P=$($Q init --dir "$W/p" --role district --region 500116 --name 区 \
	--root "$ROOT_PK" 2>/dev/null)
$Q enroll --dir "$W/r" --pubkey "$P" --role district --region 500116 \
	--name 区 >/dev/null
$Q enroll --dir "$W/r" --pubkey "$T" --role town --region 500116001 \
	--name 城南街道 >/dev/null
$Q log export --dir "$W/r" -o "$W/r.log" >/dev/null
$Q log import --dir "$W/t" "$W/r.log" >/dev/null
$Q enroll --dir "$W/t" --pubkey "$V" --role village --region 500116001001 \
	--name 石桥村 >/dev/null
$Q log export --dir "$W/t" -o "$W/t.log" >/dev/null
$Q log import --dir "$W/v" "$W/t.log" >/dev/null
for i in 1 2 3; do
	$Q log append --dir "$W/v" --type note --text "入户走访 $i" >/dev/null
done
$Q grid add --dir "$W/v" --code 500116001001001 --kind grid --name 第一网格 \
	>/dev/null
c=$($Q case open --dir "$W/v" --grid 500116001001001 --category 邻里纠纷 \
	--title 楼上漏水 --party 王某)
$Q case accept --dir "$W/v" "$c" >/dev/null

mkdir -p "$W/out"
$Q heads --dir "$W/p" -o "$W/out/heads-empty" >/dev/null
$Q heads --dir "$W/v" -o "$W/out/heads-village" >/dev/null
$Q heads --dir "$W/t" -o "$W/out/heads-town" >/dev/null
$Q bundle export --dir "$W/v" --for "$W/out/heads-empty" \
	-o "$W/out/bundle-all" >/dev/null
$Q bundle export --dir "$W/r" --for "$W/out/heads-empty" \
	-o "$W/out/bundle-root" >/dev/null
$Q bundle export --dir "$W/v" --for "$W/out/heads-town" \
	-o "$W/out/bundle-village-for-town" >/dev/null
printf '[net]\ncompress = no\n' >>"$W/v/qiao.conf"
$Q bundle export --dir "$W/v" --for "$W/out/heads-empty" \
	-o "$W/out/bundle-plain" >/dev/null
for d in bundle session; do
	rm -rf "tests/fuzz/corpus/$d"
	mkdir -p "tests/fuzz/corpus/$d"
	cp "$W"/out/* "tests/fuzz/corpus/$d/"
done
ls -l tests/fuzz/corpus/bundle
