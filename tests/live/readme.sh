# readme.sh - what the README tells a user to install is what the build
# needs: every build package of quickstart.sh's list that the pip route
# builds against is on the README's apt-get line (issue 30: libpq-dev and
# libpython3-dev were missing, and every postgresql:// pool failed later).
. "$TOP_SRCDIR/tests/live/lib.sh"

readme=$(tr '\n' ' ' <"$TOP_SRCDIR/README.md" | sed -n 's/.*on Debian: `apt-get install \([^`]*\)`.*/\1/p')
expect "the README has the pip route's apt-get line" "$([ -n "$readme" ] && echo yes)" yes
build=$(sed -n '/^PACKAGES="/,/"$/p' "$TOP_SRCDIR/quickstart.sh" | tr -d '"\\' | sed 's/^PACKAGES=//' | tr ' \t' '\n\n' |
	grep -E '^(build-essential|autoconf|automake|pkg-config|lib.*-dev|python3-dev)$' | grep -v -E '^(libcmocka-dev|libclang)')
missing=""
for p in $build; do
	case " $readme " in *" $p "*) ;; *) missing="$missing $p" ;; esac
done
expect "every build package of quickstart.sh is on the README's line" "${missing:-none}" none
finish
