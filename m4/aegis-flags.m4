# Warnings, hardening, sanitizers and fuzzing switches for aegis-sandbox.

# AEGIS_CHECK_FLAG(FLAG, EXTRA, IF-OK, IF-NOT, LINK?): does $CC take FLAG?
AC_DEFUN([AEGIS_CHECK_FLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  aegis_save_CFLAGS="$CFLAGS"; aegis_save_LDFLAGS="$LDFLAGS"
  CFLAGS="$CFLAGS -Werror $2 $1"
  AS_IF([test -n "$5"], [LDFLAGS="$LDFLAGS $1"])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
    [AC_MSG_RESULT([yes]); $3], [AC_MSG_RESULT([no]); $4])
  CFLAGS="$aegis_save_CFLAGS"; LDFLAGS="$aegis_save_LDFLAGS"
])

AC_DEFUN([AEGIS_ADD_CFLAG], [
  AEGIS_CHECK_FLAG([$1], [], [AEGIS_CFLAGS="$AEGIS_CFLAGS $1"])
])

AC_DEFUN([AEGIS_WARNINGS], [
  AEGIS_ADD_CFLAG([-Wall])
  AEGIS_ADD_CFLAG([-Wextra])
  AEGIS_ADD_CFLAG([-Wformat=2])
  AEGIS_ADD_CFLAG([-Wshadow])
  AEGIS_ADD_CFLAG([-Wpointer-arith])
  AEGIS_ADD_CFLAG([-Wstrict-prototypes])
  AEGIS_ADD_CFLAG([-Wmissing-prototypes])
  AEGIS_ADD_CFLAG([-Wno-unused-parameter])
  AEGIS_ADD_CFLAG([-Wno-missing-field-initializers])
  AEGIS_ADD_CFLAG([-Werror=implicit-function-declaration])
  AC_ARG_ENABLE([werror],
    [AS_HELP_STRING([--enable-werror], [treat warnings as errors])],
    [AS_IF([test "$enableval" = yes], [AEGIS_CFLAGS="$AEGIS_CFLAGS -Werror"])])
  AC_SUBST([AEGIS_CFLAGS])
])

AC_DEFUN([AEGIS_HARDENING], [
  AEGIS_ADD_CFLAG([-fstack-protector-strong])
  AEGIS_ADD_CFLAG([-fstack-clash-protection])
  AEGIS_ADD_CFLAG([-fno-strict-overflow])
  AEGIS_CHECK_FLAG([-D_FORTIFY_SOURCE=2], [-O2], [AEGIS_CPPFLAGS="$AEGIS_CPPFLAGS -D_FORTIFY_SOURCE=2"])
  AEGIS_CHECK_FLAG([-Wl,-z,relro], [], [AEGIS_LDFLAGS="$AEGIS_LDFLAGS -Wl,-z,relro"], [], [link])
  AEGIS_CHECK_FLAG([-Wl,-z,now], [], [AEGIS_LDFLAGS="$AEGIS_LDFLAGS -Wl,-z,now"], [], [link])
  AEGIS_CHECK_FLAG([-pie], [-fPIE], [AEGIS_CFLAGS="$AEGIS_CFLAGS -fPIE"; AEGIS_LDFLAGS="$AEGIS_LDFLAGS -pie"], [], [link])
  AC_SUBST([AEGIS_CPPFLAGS])
  AC_SUBST([AEGIS_LDFLAGS])
])

AC_DEFUN([AEGIS_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers], [build with AddressSanitizer and UndefinedBehaviorSanitizer])],
    [], [enable_sanitizers=no])
  AS_IF([test "$enable_sanitizers" = yes], [
    SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    AEGIS_CHECK_FLAG([$SAN_FLAGS], [], [], [AC_MSG_ERROR([the compiler does not support $SAN_FLAGS])], [link])
    AEGIS_CFLAGS="$AEGIS_CFLAGS $SAN_FLAGS"
    AEGIS_LDFLAGS="$AEGIS_LDFLAGS $SAN_FLAGS"
  ])
  AM_CONDITIONAL([SANITIZERS], [test "$enable_sanitizers" = yes])
])

AC_DEFUN([AEGIS_FUZZING], [
  AC_PATH_PROG([CLANG], [clang])
  have_fuzzing=no
  AS_IF([test -n "$CLANG"], [
    AC_MSG_CHECKING([whether $CLANG builds libFuzzer targets])
    cat > conftest_fuzz.c <<_ACEOF
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
_ACEOF
    AS_IF([$CLANG -fsanitize=fuzzer conftest_fuzz.c -o conftest_fuzz >/dev/null 2>&1], [have_fuzzing=yes])
    rm -f conftest_fuzz.c conftest_fuzz
    AC_MSG_RESULT([$have_fuzzing])
  ])
  AM_CONDITIONAL([HAVE_FUZZING], [test "$have_fuzzing" = yes])
])
